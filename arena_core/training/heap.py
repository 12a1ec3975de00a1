"""Give freed heap memory back to the OS between training steps, so the worker's memory stays flat.

Why: the length-grouped batches change every tensor's size from one step to the next, and glibc's
malloc cannot reuse the freed blocks of one step for the differently sized blocks of the next:
its heap keeps growing. Measured on MiniLM at batch 16, max_length 128: +380 MiB over 400 steps,
still growing (BENCHMARKS.md, "Memory"). ``malloc_trim`` hands the free pages back. Trimming
after every step caps the growth but costs about 20 % of the training speed (the pages are
faulted in again at the next step), so ``HeapTrimmer`` trims only when the resident memory between
steps has grown ``MARGIN`` past its level after the first step (the longest batch comes first):
the peak stays flat for about 3 % (a fifth of the steps trim).

A no-op where there is no glibc (macOS, Windows, musl) or no ``/proc``, and when the environment
sets ``ARENA_HEAP_TRIM=0`` (the benchmark's "before" figures).
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

from arena_core import settings

ENV_HEAP_TRIM = settings.HEAP_TRIM
MARGIN = 64 * 2**20  # growth tolerated before a trim: 0 trims every other step for ~30 MiB less
_STATM = Path("/proc/self/statm")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim`` or None (looked up once, among the symbols already loaded)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def resident_bytes() -> int | None:
    """This process's resident memory now, or None where /proc is missing."""
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class HeapTrimmer:
    """Call ``after_step()`` at the end of each training step (cheap: one /proc read)."""

    def __init__(self) -> None:
        wanted = settings.heap_trim()
        self._trim = _malloc_trim() if wanted and resident_bytes() is not None else None
        self.reference: int | None = None
        self.trims = 0

    @property
    def active(self) -> bool:
        return self._trim is not None

    def trim(self) -> None:
        if self._trim is not None:
            self._trim(0)
            self.trims += 1

    def after_step(self) -> None:
        if self._trim is None:
            return
        now = resident_bytes()
        if now is None:
            return
        if self.reference is None:
            self.reference = now  # after the first (longest) batch
        elif now > self.reference + MARGIN:
            self.trim()
