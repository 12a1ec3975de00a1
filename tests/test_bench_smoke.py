"""The benchmark suite runs end to end at its cheapest size and writes every JSON key.

Speed is never asserted here (benchmarks measure it, see BENCHMARKS.md): only that the listing
measure really listed the 50 generated sessions and that the JSON document is complete.
"""

from __future__ import annotations

import json

import pytest

from bench.run import FIGURE_KEYS, main


def run_smoke(measure: str, tmp_path, monkeypatch, capsys) -> dict:
    """``python -m bench --size smoke --only MEASURE --json F``; its JSON document."""
    monkeypatch.setenv("BENCH_TMP", str(tmp_path))
    out = tmp_path / f"{measure}.json"
    code = main(["--size", "smoke", "--only", measure, "--json", str(out)])
    assert code == 0, capsys.readouterr().out
    return json.loads(out.read_text(encoding="utf-8"))


def test_listing_smoke_writes_every_figure_key(tmp_path, monkeypatch, capsys):
    document = run_smoke("listing", tmp_path, monkeypatch, capsys)
    assert set(FIGURE_KEYS) <= set(document)
    assert document["list_10000_s"] is None  # not measured at this size
    listed = document["measures"]["listing"]["details"]["50"]["store_list"]
    assert listed["count"] == 50
    assert listed["median_s"] > 0
    assert document["machine"]["nproc"] >= 1 and document["machine"]["ram_gb"] > 0
    assert "store.list(), 1,000 sessions" in capsys.readouterr().out


@pytest.mark.slow  # trains four contenders for real: about a minute alone, more under load
def test_quality_smoke_compares_every_contender_on_one_split(tmp_path, monkeypatch, capsys):
    """The quality measure at its cheapest size (120 real fortunes, tiny model, one seed)."""
    from tool_support import missing_quality_data

    missing_quality_data("fortunes_en")
    document = run_smoke("quality", tmp_path, monkeypatch, capsys)
    rows = document["measures"]["quality"]["details"]["rows"]
    assert {row["contender"] for row in rows} == {"default", "tfidf", "embed", "trainer"}
    assert all(0.0 <= row["test_macro_f1"] <= 1.0 for row in rows)
    assert isinstance(document["quality_default_minus_best_baseline"], float)


@pytest.mark.browser
@pytest.mark.timeout(400)
def test_relaunch_chart_smoke_clicks_relaunch_until_the_first_point(tmp_path, monkeypatch, capsys):
    """The relaunch measure at its cheapest size (tiny model): one click with nothing else
    training and one beside a training session, each until the child's loss point is drawn."""
    from browser_support import require_browser

    require_browser()  # skips loudly without Chromium, fails where browsers are required
    document = run_smoke("relaunch_chart", tmp_path, monkeypatch, capsys)
    assert document["relaunch_to_chart_s"] > 0 and document["relaunch_to_chart_busy_s"] > 0
    assert document["targets"]["relaunch_to_chart_s"]["target"] == "<= 6"
    details = document["measures"]["relaunch_chart"]["details"]
    for run in (*details["quiet"], *details["busy"]):
        assert run["points"] >= 1  # the child's own chart, drawn
        assert 0 < run["worker_running_s"] <= run["first_line_written_s"] <= run["latency_s"]
    assert "relaunch click -> ... (quiet" in capsys.readouterr().out


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_sessions_page_smoke_draws_every_session_in_chromium(tmp_path, monkeypatch, capsys):
    """The Sessions page measure at its cheapest size: 50 sessions, one new server, one
    reopening (each timing waited for "50 of 50 sessions" and a grid of 51 rows in Chromium)."""
    from browser_support import require_browser

    require_browser()  # skips loudly without Chromium, fails where browsers are required
    document = run_smoke("sessions_page", tmp_path, monkeypatch, capsys)
    assert document["sessions_page_cold_10000_s"] is None  # not measured at this size
    assert document["targets"]["sessions_page_warm_10000_s"]["target"] == "<= 0.3"
    found = document["measures"]["sessions_page"]["details"]["50"]
    assert found["first_s"] > 0 and found["warm_s"] > 0
    assert "Sessions page, 50 sessions (browser)" in capsys.readouterr().out


@pytest.mark.slow  # a local Ray cluster and three sessions of six jobs
def test_ray_overhead_smoke_trains_each_executor_variant(tmp_path, monkeypatch, capsys):
    document = run_smoke("ray_overhead", tmp_path, monkeypatch, capsys)
    assert isinstance(document["ray_overhead_s_per_job"], float)
    details = document["measures"]["ray_overhead"]["details"]
    assert set(details["wall_s"]) == {"local", "ray_one_at_a_time", "ray_parallel"}
    assert details["size"]["jobs"] == 6 and all(w > 0 for w in details["wall_s"].values())
