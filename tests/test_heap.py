"""HeapTrimmer hands freed heap pages back to the OS (glibc), and only when memory grew."""

import subprocess
import sys

import pytest
from tool_support import missing_tool

from arena_core.training.heap import ENV_HEAP_TRIM, MARGIN, HeapTrimmer, resident_bytes


@pytest.fixture(autouse=True)
def glibc_and_proc(monkeypatch):
    """The trimmer needs glibc's malloc_trim and /proc: without them a loud skip, a failure
    where tools are required (CI). The variable that turns it off is cleared for each test."""
    monkeypatch.delenv(ENV_HEAP_TRIM, raising=False)
    if not HeapTrimmer().active:
        missing_tool("glibc's malloc_trim and /proc, which HeapTrimmer needs")


# Fills the heap with 2 KB blocks, frees most of them (some stay above, so glibc cannot shrink
# the heap from its top) and prints the resident MiB before and after one trim.
FRAGMENTED_HEAP = """
from arena_core.training.heap import HeapTrimmer, resident_bytes
blocks = [bytes(2000) for _ in range(60_000)]
del blocks[:-1]  # all but the last block: the freed space stays inside the heap
kept = [bytes(2000) for _ in range(60_000)]
kept = kept[::100]
before = resident_bytes()
HeapTrimmer().trim()
print(before // 2**20, resident_bytes() // 2**20)
"""


def test_a_trim_returns_the_freed_heap_to_the_os():
    out = subprocess.run(
        [sys.executable, "-c", FRAGMENTED_HEAP], capture_output=True, text=True, check=True
    ).stdout
    before, after = (int(n) for n in out.split())
    assert before - after >= 60  # of the ~115 MiB freed, at least 60 MiB leave the process


def test_it_trims_only_once_memory_grew_past_the_first_step_and_a_margin():
    trimmer = HeapTrimmer()
    trimmer.after_step()  # the first step sets the reference
    assert trimmer.reference == pytest.approx(resident_bytes(), rel=0.2)
    assert trimmer.trims == 0
    mib = 2**20
    trimmer.reference = resident_bytes() - MARGIN + 16 * mib  # grown, but within the margin
    trimmer.after_step()
    assert trimmer.trims == 0
    trimmer.reference = resident_bytes() - MARGIN - 16 * mib  # grown past it
    trimmer.after_step()
    assert trimmer.trims == 1


def test_the_environment_can_turn_it_off(monkeypatch):
    monkeypatch.setenv("ARENA_HEAP_TRIM", "0")
    trimmer = HeapTrimmer()
    trimmer.after_step()
    trimmer.reference = 1
    trimmer.after_step()
    assert not trimmer.active and trimmer.trims == 0
