"""The matmul-ceiling measure runs end to end at its cheapest size; its FLOP count is the
documented formula. Speed is never asserted (BENCHMARKS.md measures it)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from test_bench_smoke import run_smoke

from bench.ceiling import training_flops


def test_training_flops_follow_the_formula():
    shapes = [(16, 10), (4, 30)]  # (rows, padded length) per batch
    counts = {"token": 1000, "row": 50, "embeddings": 99999}
    config = SimpleNamespace(num_hidden_layers=2, hidden_size=8)
    found = training_flops(shapes, counts, config)
    assert found["padded_tokens"] == 16 * 10 + 4 * 30
    assert found["dense_flops"] == 6 * 1000 * 280 + 6 * 50 * 20
    assert found["attention_flops"] == 12 * 2 * 8 * (16 * 100 + 4 * 900)
    assert found["total_flops"] == found["dense_flops"] + found["attention_flops"]


@pytest.mark.timeout(300)
def test_ceiling_smoke_measures_both_dtypes_and_one_job(tmp_path, monkeypatch, capsys):
    """Tiny model on 60 real fortunes, 256 x 256 matmuls (about 20 s)."""
    from tool_support import missing_quality_data

    missing_quality_data("fortunes_en")
    document = run_smoke("ceiling", tmp_path, monkeypatch, capsys)
    details = document["measures"]["ceiling"]["details"]
    assert details["ceiling_gflops"]["fp32"] > 0 and details["ceiling_gflops"]["bf16"] > 0
    assert details["train_dtype"] in ("fp32", "bf16")
    assert details["flops"]["padded_tokens"] > 0 and details["batches"] >= 1
    assert document["train_pct_of_ceiling"] > 0
    assert document["targets"]["train_pct_of_ceiling"]["target"] == "(info)"
    assert "matmul ceiling" in capsys.readouterr().out
