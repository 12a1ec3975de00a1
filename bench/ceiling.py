"""Share of the matmul ceiling: our training FLOP/s against this machine's best matmul GFLOP/s.

A speed-up ratio says nothing about how much is left on the table; this does. Two parts:

ceiling   GFLOP/s of large square matmuls (``a @ b``, n x n, 2 n^3 FLOPs each) in fp32 and in
          bf16, with torch's thread count as training uses it (the process default); each size
          timed for at least ``MIN_SECONDS`` per repeat, best of ``REPEATS``; the ceiling of a
          dtype is its best size.
training  one real job (``run_job`` as the worker calls it, default ``TrainingConfig`` with
          ``epochs`` fixed and early stopping off) on English fortunes (``bench.quality``'s
          60/20/20 split); every training batch's (rows B, padded length T) is recorded.

FLOPs of training (forward + backward = 3 x forward, a multiply-add counted as 2)::

    6 * N_token * sum(B * T)            encoder layers, applied to every (padded) token
  + 6 * N_row   * sum(B)                pooler + classifier head, applied to one token per row
  + 12 * L * d  * sum(B * T^2)          attention scores Q K^T and weights x V, L layers, width d

N_token = parameters of the encoder layers, N_row = of pooler and classifier; embeddings are
lookups, not matmuls, and are left out. Training FLOP/s = FLOPs / the job report's
``train_seconds`` (training wall time without validation passes; its checkpoint and best-model
saves stay in, as a user waits for them; the details also give the rate without them).
``train_pct_of_ceiling`` = that rate / the ceiling of the dtype training ran in (the report's
``precision["train"]``; fp32 where the report has none) x 100.
"""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path
from typing import Any

from .common import offline_env, recorded_batches, rounded, scratch

SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"matmul": (256,), "rows": 60, "epochs": 1, "model": "tiny"},
    "small": {"matmul": (1024, 2048), "rows": 400, "epochs": 2, "model": "minilm"},
    "full": {"matmul": (1024, 2048, 4096), "rows": 2000, "epochs": 2, "model": "minilm"},
}
COLLECTION = "fortunes_en"
DTYPES = ("fp32", "bf16")
MIN_SECONDS = 1.0
REPEATS = 3
SEED = 0


def matmul_gflops(n: int, dtype: str, min_seconds: float = MIN_SECONDS) -> list[float]:
    """GFLOP/s of ``REPEATS`` timed stretches of n x n matmuls (after one untimed product)."""
    import torch

    kind = torch.float32 if dtype == "fp32" else torch.bfloat16
    generator = torch.Generator().manual_seed(SEED)
    a = torch.randn(n, n, generator=generator).to(kind)
    b = torch.randn(n, n, generator=generator).to(kind)
    out = torch.empty(n, n, dtype=kind)
    torch.matmul(a, b, out=out)  # kernel choice and first-touch of the output, untimed
    rates = []
    for _ in range(REPEATS):
        count, start = 0, time.perf_counter()
        while count < 2 or time.perf_counter() - start < min_seconds:
            torch.matmul(a, b, out=out)
            count += 1
        rates.append(2 * n**3 * count / (time.perf_counter() - start) / 1e9)
    return rates


def ceiling(sizes: tuple[int, ...]) -> dict[str, Any]:
    """Best GFLOP/s per dtype over ``sizes``, and every size's figures."""
    import torch

    found: dict[str, Any] = {"threads": torch.get_num_threads(), "per_size": {}}
    for dtype in DTYPES:
        per_size = {n: matmul_gflops(n, dtype) for n in sizes}
        found["per_size"][dtype] = {str(n): [rounded(r, 1) for r in v] for n, v in per_size.items()}
        found[dtype] = rounded(max(max(v) for v in per_size.values()), 1)
    return found


def parameter_counts(model) -> dict[str, int]:
    """Parameters per role: encoder layers (every token), head (one token per row), embeddings."""
    counts = {"token": 0, "row": 0, "embeddings": 0}
    for name, parameter in model.named_parameters():
        role = "embeddings" if "embeddings" in name else "token" if ".encoder." in name else "row"
        counts[role] += parameter.numel()
    return counts


def training_flops(shapes: list[tuple[int, int]], counts: dict[str, int], config) -> dict:
    """The module doc's formula, term by term, over the recorded (B, T) batches."""
    tokens = sum(b * t for b, t in shapes)
    rows = sum(b for b, _ in shapes)
    squares = sum(b * t * t for b, t in shapes)
    dense = 6 * counts["token"] * tokens + 6 * counts["row"] * rows
    attention = 12 * config.num_hidden_layers * config.hidden_size * squares
    return {
        "padded_tokens": tokens,
        "rows": rows,
        "dense_flops": dense,
        "attention_flops": attention,
        "total_flops": dense + attention,
    }


def train_once(spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    """One real job, its recorded batches, report and save time."""
    from arena_core.session.manifest import TrainingConfig
    from arena_core.store.metrics_log import MetricsWriter
    from arena_core.training.hf_loop import ArenaTrainer
    from arena_core.training.job_runner import run_job, shared_inputs
    from arena_core.training.models import load_classifier, resolve_model

    from .quality import make_case
    from .throughput import _timed_saves

    config = TrainingConfig(model=spec["model"], epochs=spec["epochs"], early_stopping_patience=0)
    case = make_case(COLLECTION, spec["rows"], SEED, config)
    prepared = case.prepared
    shared = shared_inputs(config, prepared.dataset.table)
    with _timed_saves() as saves, recorded_batches(ArenaTrainer) as shapes:
        report = run_job(
            prepared.jobs[0],
            config,
            prepared.dataset.table,
            prepared.split,
            folder,
            MetricsWriter(folder / "metrics.jsonl"),
            shared=shared,
        )
    model = load_classifier(resolve_model(config.model), prepared.jobs[0])
    return {
        "report": report.model_dump(mode="json"),
        "shapes": list(shapes),
        "saves_s": saves["checkpoint_s"] + saves["best_model_s"],
        "counts": parameter_counts(model),
        "model_config": model.config,
        "train_rows": len(case.texts["train"]),
    }


def run(size: str = "small") -> dict[str, Any]:
    """The matmul ceiling, then one training job; its FLOP/s as a share of the ceiling."""
    import os

    offline_env()
    logging.getLogger("arena_core").setLevel(logging.ERROR)
    spec = SIZES[size]
    load_before = round(os.getloadavg()[0], 2)
    roof = ceiling(spec["matmul"])
    gc.collect()
    with scratch("ceiling") as root:
        job = train_once(spec, root / "job")
    flops = training_flops(job["shapes"], job["counts"], job["model_config"])
    seconds = job["report"]["timings"]["train_seconds"]
    precision = job["report"].get("precision") or {}
    dtype = precision.get("train", "fp32")
    rate = flops["total_flops"] / seconds / 1e9
    without_saves = flops["total_flops"] / max(seconds - job["saves_s"], 1e-9) / 1e9
    return {
        "figures": {"train_pct_of_ceiling": rounded(100 * rate / roof[dtype], 1)},
        "details": {
            "spec": {**spec, "collection": COLLECTION, "train_rows": job["train_rows"]},
            "ceiling_gflops": roof,
            "train_dtype": dtype,
            "precision_in_report": bool(precision),
            "train_seconds": seconds,
            "saves_in_train_s": rounded(job["saves_s"], 2),
            "train_gflops": rounded(rate, 2),
            "train_gflops_without_saves": rounded(without_saves, 2),
            "pct_of_fp32_ceiling": rounded(100 * rate / roof["fp32"], 1),
            "pct_of_bf16_ceiling": rounded(100 * rate / roof["bf16"], 1),
            "parameters": job["counts"],
            "flops": flops,
            "batches": len(job["shapes"]),
            "load_avg_1m_before": load_before,
            "load_avg_1m_after": round(os.getloadavg()[0], 2),
        },
    }
