"""The 100,000-row memory measure at its cheapest size (2,000 real texts, tiny model).

Memory is never asserted here (a benchmark measures it, BENCHMARKS.md): only that the real
worker trained the capped steps, validated every validation row, fitted the reference baseline
and that the figure reached the JSON document with its target.
"""

from __future__ import annotations

import pytest
from test_bench_smoke import run_smoke


@pytest.mark.slow  # the real worker trains and fits the reference: about 35 s
def test_memory_100k_smoke_reports_the_worker_peak(tmp_path, monkeypatch, capsys):
    from tool_support import missing_quality_data

    missing_quality_data("fortunes_en", "wordnet_nouns")
    document = run_smoke("memory_100k", tmp_path, monkeypatch, capsys)
    assert document["peak_rss_100k_mb"] > 0
    assert document["targets"]["peak_rss_100k_mb"]["target"] == "<= 1907 (2 GB)"
    details = document["measures"]["memory_100k"]["details"]
    assert not details["stopped"] and details["jobs"] == 1
    assert details["global_step"] == details["size"]["step_cap"]
    assert details["validation_rows"] >= 350 and details["eval_lines"] == 1
    assert details["baseline"]["model"] == "tfidf"
    assert details["baseline"]["fitted_rows"] == details["train_rows"]  # under the row bound
