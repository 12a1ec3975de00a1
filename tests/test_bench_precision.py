"""The precision benchmark runs end to end at its cheapest size (tiny model, real texts)."""

from __future__ import annotations

from test_bench_smoke import run_smoke


def test_precision_smoke_measures_speed_and_quality(tmp_path, monkeypatch, capsys):
    from tool_support import missing_quality_data

    missing_quality_data("wordnet_nouns")
    document = run_smoke("precision", tmp_path, monkeypatch, capsys)
    for key in ("bf16_inference_speedup", "bf16_train_step_speedup"):
        assert document[key] > 0  # a ratio of two real timings; its size means nothing here
    assert isinstance(document["bf16_train_f1_delta"], float)
    details = document["measures"]["precision"]["details"]
    rows = details["quality"]["rows"]
    assert sorted(row["precision"] for row in rows) == ["bf16", "fp32"]
    assert all(0.0 <= row["test_macro_f1"] <= 1.0 for row in rows)
    assert details["one_thread"]["threads"] == 1
    assert set(details["hardware"]) >= {"cuda", "cpu_bf16", "native_bf16"}
    assert document["targets"]["bf16_train_f1_delta"]["target"] == ">= -0.01"
    assert "test macro-F1, bf16 - fp32 training" in capsys.readouterr().out
