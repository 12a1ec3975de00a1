"""Which number format (fp32, bf16, fp16) each stage of a job computes in.

A session's ``training.precision`` is 'auto', 'fp32', 'bf16' or 'fp16'; ``resolve`` turns it
into the precision of one stage: 'train', 'evaluate' (validation and test) or 'predict'.

bf16 only pays where the hardware computes it natively: a CUDA GPU that supports it, or a CPU
with AVX512-BF16 or AMX (about 2x faster MiniLM inference here). Elsewhere torch emulates bf16
and it is 2-4x *slower* than fp32, so 'auto' asks the hardware and an explicit 'bf16' on such
hardware is allowed but logged as a warning. fp16 needs a CUDA GPU (on a CPU it is emulated
and its range overflows without a loss scaler); it is never picked automatically.

No torch at import time (pages import this to describe the setting); the CPU facts come from
/proc/cpuinfo, the GPU facts from torch when a stage is resolved.
"""

from __future__ import annotations

import functools
import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from arena_core.errors import ArenaError

log = logging.getLogger(__name__)

Resolved = Literal["fp32", "bf16", "fp16"]
Stage = Literal["train", "evaluate", "predict"]
STAGES: tuple[Stage, ...] = ("train", "evaluate", "predict")
CHOICES = ("auto", "fp32", "bf16", "fp16")

# Whether 'auto' also trains in bf16 where it is native (evaluation and prediction always do).
# Measured by `python -m bench --only precision --size small` (BENCHMARKS.md, "Precision") on
# a 2-core AMD EPYC with AVX512-BF16 (no AMX), MiniLM, batch 16, 2026-12-02: test macro-F1 of
# sessions trained in bf16 0.8385 vs fp32 0.8387 (wordnet_nouns, 300 rows, seeds 0-2: -0.0002,
# within the 0.01 bar; per seed 0.900/0.901, 0.774/0.773, 0.842/0.842) and a training step
# 1.54x faster (2 threads; inference 2.15x). Both conditions hold, so 'auto' trains in bf16.
AUTO_TRAINS_BF16 = True

CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO = Path("/proc/cpuinfo")
FP16_NEEDS_CUDA = (
    "Precision fp16 needs a CUDA GPU, and this machine has none: choose auto (bf16 where the "
    "hardware supports it), bf16 or fp32."
)


@dataclass(frozen=True)
class Hardware:
    """What decides the precision: the device a job computes on and its native formats."""

    cuda: bool
    cuda_bf16: bool
    cpu_bf16: bool

    @property
    def native_bf16(self) -> bool:
        """bf16 on the device the work runs on (a present GPU takes the work)."""
        return self.cuda_bf16 if self.cuda else self.cpu_bf16


def cpu_native_bf16(cpuinfo: Path = CPUINFO) -> bool:
    """Whether the CPU has bf16 instructions (AVX512-BF16 or AMX); False where unknown."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return any(flag in flags for flag in CPU_BF16_FLAGS)
    return False


@functools.cache
def hardware() -> Hardware:
    """This machine's facts (imports torch: worker side, or once a stage is resolved)."""
    import torch

    cuda = torch.cuda.is_available()
    return Hardware(
        cuda=cuda,
        cuda_bf16=bool(cuda and torch.cuda.is_bf16_supported()),
        cpu_bf16=_this_cpu_bf16(),
    )


def require_supported(precision: str, hw: Hardware | None = None) -> None:
    """Refuse a precision this machine cannot run (fp16 without CUDA), with what to do.

    Touches torch only for fp16, so checking a new session's settings stays cheap.
    """
    if precision == "fp16" and not (hw or hardware()).cuda:
        raise ArenaError(FP16_NEEDS_CUDA)


def resolve(precision: str, stage: Stage, hw: Hardware | None = None) -> Resolved:
    """The precision ``stage`` computes in for the setting ``precision``."""
    if precision not in CHOICES:
        raise ArenaError(f"Unknown precision {precision!r}: choose one of {', '.join(CHOICES)}.")
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    hw = hw or hardware()
    if precision == "auto":
        wants_bf16 = stage != "train" or AUTO_TRAINS_BF16
        return "bf16" if wants_bf16 and hw.native_bf16 else "fp32"
    require_supported(precision, hw)
    if precision == "bf16" and not hw.native_bf16:
        _warn_emulated()
    return precision  # type: ignore[return-value]


def resolve_all(precision: str, hw: Hardware | None = None) -> dict[str, Resolved]:
    """{stage: precision} for the stages of a training job (recorded in its report)."""
    return {stage: resolve(precision, stage, hw) for stage in ("train", "evaluate")}


@functools.cache
def _warn_emulated() -> None:  # once per process: every job of a session would repeat it
    log.warning(
        "precision bf16 on hardware without native bf16: torch emulates it, which is usually "
        "slower than fp32 (choose auto to use bf16 only where it is native)"
    )


def autocast(resolved: str, device_type: str) -> AbstractContextManager:
    """torch.autocast for a resolved precision on a device type ('cpu', 'cuda'); fp32: none."""
    if resolved == "fp32":
        return nullcontext()
    import torch

    dtype = torch.bfloat16 if resolved == "bf16" else torch.float16
    return torch.autocast(device_type=device_type, dtype=dtype)


@functools.cache
def _this_cpu_bf16() -> bool:  # pages describe the setting on every rerun: read the file once
    return cpu_native_bf16()


def auto_summary(cpu_bf16: bool | None = None) -> str:
    """What 'auto' does on this machine's CPU, in words (no torch: pages show it)."""
    native = _this_cpu_bf16() if cpu_bf16 is None else cpu_bf16
    if not native:
        return "fp32 on this CPU, which has no native bf16"
    if AUTO_TRAINS_BF16:
        return "bf16 for training, evaluation and prediction on this CPU"
    return "bf16 for evaluation and prediction on this CPU, training in fp32"


def help_text() -> str:
    """The Precision field's help on the pages and the command line."""
    return (
        f"auto: {auto_summary()}; on a GPU, bf16 where it supports it. fp32: full precision "
        "everywhere. bf16: half the memory traffic; fast only where the hardware has it "
        "(elsewhere emulated, slower). fp16: CUDA GPUs only."
    )


def setting_text(precision: str, cpu_bf16: bool | None = None) -> str:
    """A session's setting in words: 'auto (bf16 for evaluation ...)', else as stored."""
    return f"auto ({auto_summary(cpu_bf16)})" if precision == "auto" else precision
