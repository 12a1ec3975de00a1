"""Benchmarks of Training Arena (not tests): each module measures one thing, ``run.py`` runs them.

Modules: throughput, ova, listing, relaunch, chart_lag, memory; each has ``run(size) -> dict``
with ``figures`` (the JSON keys of BENCHMARKS.md) and ``details``. Sizes: smoke, small, full.
"""
