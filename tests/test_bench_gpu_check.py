"""``bench/gpu_check.py`` goes through the product's path; on a CPU it runs with --allow-cpu.

The GPU itself cannot be tested here (no device on these machines): this runs the same path on
the CPU, so the script cannot rot, and checks what it says without a GPU.
"""

from __future__ import annotations

import json

import pytest

from bench import gpu_check

torch = pytest.importorskip("torch")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: run the script")
def test_without_a_gpu_it_says_so_and_exits_2(capsys):
    assert gpu_check.main([]) == 2
    assert "No CUDA GPU is visible" in capsys.readouterr().err


def test_allow_cpu_trains_and_predicts_one_session_through_the_worker(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("BENCH_TMP", str(tmp_path))
    out = tmp_path / "gpu.json"
    code = gpu_check.main(
        ["--allow-cpu", "--model", "tiny", "--rows", "60", "--epochs", "1", "--json", str(out)]
    )
    assert code == 0, capsys.readouterr()
    figures = json.loads(out.read_text(encoding="utf-8"))["figures"]
    expected_device = "cuda" if torch.cuda.is_available() else "cpu"
    assert figures["train_device"].startswith(expected_device)
    assert figures["predict_device"].startswith(expected_device)
    assert set(figures["train_precision"]) == {"train", "evaluate"}
    assert figures["train_samples_per_second"] > 0
    assert figures["predict_samples_per_second"] > 0
    assert 0.0 <= figures["best_validation_macro_f1"] <= 1.0
    assert "predict_samples_per_second" in capsys.readouterr().out
