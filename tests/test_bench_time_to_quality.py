"""The time-to-quality measure runs end to end at its cheapest size and reports every case.

Speed is never asserted (BENCHMARKS.md measures it): only that both sides trained, each left a
validation curve, the target is one both reached and the figure is the smallest case ratio.
"""

from __future__ import annotations

from itertools import pairwise

import pandas as pd
import pytest
from test_bench_smoke import run_smoke

from bench.time_to_quality import (
    compare,
    correlation_ratio,
    length_label_frame,
    parse_size,
    time_to_target,
)


def test_target_is_the_lower_best_and_ratio_is_theirs_over_ours():
    ours = {
        "curve": [{"epoch": 1, "seconds": 2.0, "f1": 0.5}, {"epoch": 2, "seconds": 4.0, "f1": 0.8}]
    }
    theirs = {
        "curve": [{"epoch": 1, "seconds": 3.0, "f1": 0.6}, {"epoch": 2, "seconds": 6.0, "f1": 0.7}]
    }
    found = compare(ours, theirs)
    assert found["target_f1"] == 0.7
    assert (found["ours_s"], found["theirs_s"]) == (4.0, 6.0)
    assert (found["ours_epochs"], found["theirs_epochs"]) == (2, 2)
    assert found["ratio"] == 1.5
    assert time_to_target(ours["curve"], 0.9) is None


def test_length_label_rows_make_length_go_with_the_label():
    rows = [(label, "x" * n) for label in "abcd" for n in range(1, 201)]
    frame = pd.DataFrame(rows, columns=["label", "text"])
    assert correlation_ratio(frame["text"].str.len(), frame["label"]) == 0.0
    kept = length_label_frame(frame)
    assert set(kept["label"]) == set("abcd") and len(kept) < len(frame)
    assert correlation_ratio(kept["text"].str.len(), kept["label"]) > 0.5  # 0.69 here


def test_size_spec_overrides_the_preset():
    spec = parse_size("small:rounds=1,rows=2000+400,profiles=long_tail")
    assert (spec["rounds"], spec["rows"], spec["profiles"]) == (1, (2000, 400), ("long_tail",))
    assert parse_size("full")["rows"] == (400, 2000, 10000)
    with pytest.raises(ValueError):
        parse_size("small:profiles=nope")


@pytest.mark.timeout(300)
def test_time_to_quality_smoke_reports_each_profile(tmp_path, monkeypatch, capsys):
    """Tiny model, 60 rows of each profile, one round (about 30 s)."""
    from tool_support import missing_quality_data

    missing_quality_data("wordnet_nouns", "fortunes_en")
    document = run_smoke("time_to_quality", tmp_path, monkeypatch, capsys)
    cases = document["measures"]["time_to_quality"]["details"]["cases"]
    assert [c["profile"] for c in cases] == ["short", "long_tail", "length_label"]
    for case in cases:
        (found,) = case["rounds"]
        for side in ("ours", "theirs"):
            curve = found[side]["curve"]
            assert len(curve) == case["epochs"]  # one validation per epoch, early stopping off
            assert all(0 < a["seconds"] < b["seconds"] for a, b in pairwise(curve))
            assert found[side]["train_tokens"] > 0
        assert found["target_f1"] <= max(p["f1"] for p in found["ours"]["curve"])
        assert found["ratio"] == pytest.approx(found["theirs_s"] / found["ours_s"], rel=0.01)
    figure = document["time_to_quality_ratio_vs_trainer"]
    assert figure == min(c["ratio_median"] for c in cases)
    assert document["targets"]["time_to_quality_ratio_vs_trainer"]["target"] == ">= 1.25"
    assert "time to the same validation macro-F1" in capsys.readouterr().out
