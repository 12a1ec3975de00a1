"""Command line: ``python -m arena_core ...`` or ``arena ...``; one module per group of commands."""
