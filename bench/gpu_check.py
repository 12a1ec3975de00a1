"""Train and predict one small session on a GPU; print samples/s (for a machine that has one).

    python -m bench.gpu_check                    # MiniLM, 2,000 generated rows, 2 epochs
    python -m bench.gpu_check --precision fp16   # any precision setting
    python -m bench.gpu_check --json out.json    # also write the figures
    python -m bench.gpu_check --allow-cpu --model tiny --rows 80   # the same path on a CPU

It goes through the product's own path, not a side script: a session is created in a scratch
home with the core, the real worker process trains it (transformers' Trainer puts the model on
CUDA when it is present), and the saved model predicts every row with the Predict page's
``Predictor``. It checks that each of them really ran on the GPU (the job report's device and
the predictor's) and exits 1 when one did not. Without CUDA it says so and exits 2, unless
``--allow-cpu`` (used by the test suite, so this script cannot rot on CPU-only machines).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, offline_env, rounded, run_worker, scratch  # noqa: E402

NO_GPU = (
    "No CUDA GPU is visible to PyTorch (torch.cuda.is_available() is False), so there is "
    "nothing to check here. Run it on a machine with an NVIDIA GPU and a CUDA build of torch, "
    "or pass --allow-cpu to run the same path on the CPU."
)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu_check", description=__doc__)
    parser.add_argument("--model", default="minilm", help="model to train (default minilm)")
    parser.add_argument("--rows", type=int, default=2000, help="generated rows (default 2000)")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default 2)")
    parser.add_argument("--precision", default="auto", help="auto, fp32, bf16 or fp16")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch size")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--allow-cpu", action="store_true", help="run even without CUDA")
    return parser.parse_args(argv)


def _train(home: Path, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """Create and train one multi-class session; (session id, its one job's report)."""
    from arena_core.session.manifest import SessionStatus, TrainingConfig
    from arena_core.store import paths
    from arena_core.store.records import read_report
    from arena_core.store.session_store import SessionStore
    from bench.data import create_session

    store = SessionStore(home)
    config = TrainingConfig(
        model=args.model,
        epochs=args.epochs,
        batch_size=args.batch_size,
        precision=args.precision,
        early_stopping_patience=0,
    )
    session_id = create_session(store, args.rows, ("category",), config, name="gpu-check")
    wall, code = run_worker(home, session_id)
    manifest = store.load(session_id)
    if manifest.status is not SessionStatus.COMPLETED:
        raise SystemExit(
            f"The session ended {manifest.status.value} (exit code {code}): "
            f"{manifest.status_reason}. See {store.session_dir(session_id)}/worker.log."
        )
    job_dir = paths.job_dir(store.session_dir(session_id), manifest.plan[0].id)
    return session_id, {"worker_wall_s": rounded(wall), "report": read_report(job_dir)}


def _predict(model_dir: Path, texts: list[str]) -> dict[str, Any]:
    """Predict every text twice with the Predict page's Predictor; the second pass is timed."""
    from arena_core.training.predict import Predictor

    predictor = Predictor.load(model_dir)
    predictor.predict(texts[:64])  # warm-up: CUDA context, kernels, autotuning
    start = time.perf_counter()
    predictor.predict(texts)
    seconds = time.perf_counter() - start
    return {
        "device": str(predictor.device),
        "precision": predictor.precision,
        "texts": len(texts),
        "seconds": rounded(seconds),
        "samples_per_second": rounded(len(texts) / seconds, 1),
    }


def check(args: argparse.Namespace) -> dict[str, Any]:
    """Train, predict, and collect the figures; raises SystemExit on a failed check."""
    import pandas as pd
    import torch

    from arena_core.store import paths
    from arena_core.store.session_store import SessionStore

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    with scratch("gpu-check") as home:
        session_id, trained = _train(home, args)
        report = trained["report"]
        store = SessionStore(home)
        session_dir = store.session_dir(session_id)
        job_dir = paths.job_dir(session_dir, report.job.id)
        manifest = store.load(session_id)
        texts = pd.read_parquet(session_dir / manifest.dataset.snapshot_file)["text"].tolist()
        predicted = _predict(job_dir / report.model_dir, texts)
    timings = report.timings.model_dump() if report.timings else {}
    figures = {
        "gpu": gpu,
        "train_device": report.device,
        "train_precision": report.precision,
        "train_samples_per_second": timings.get("samples_per_second"),
        "eval_samples_per_second": timings.get("eval_samples_per_second"),
        "predict_device": predicted["device"],
        "predict_samples_per_second": predicted["samples_per_second"],
        "best_validation_macro_f1": (report.metrics or {}).get("macro_f1"),
    }
    return {
        "figures": figures,
        "details": {
            "settings": vars(args) | {"json": str(args.json) if args.json else None},
            "worker_wall_s": trained["worker_wall_s"],
            "predict": predicted,
            "timings": timings,
            "machine": machine(),
        },
    }


def _on_gpu(device: str | None) -> bool:
    return bool(device) and str(device).startswith("cuda")


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    offline_env()
    import torch

    if not torch.cuda.is_available() and not args.allow_cpu:
        print(NO_GPU, file=sys.stderr)
        return 2
    result = check(args)
    figures = result["figures"]
    for name, value in figures.items():
        print(f"{name:32} {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    if torch.cuda.is_available():
        missed = [
            stage
            for stage, device in (
                ("training", figures["train_device"]),
                ("predict", figures["predict_device"]),
            )
            if not _on_gpu(device)
        ]
        if missed:
            print(f"FAILED: {' and '.join(missed)} did not run on the GPU.", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
