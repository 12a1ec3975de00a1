"""The append-only metrics log (one JSON object per line) and its incremental readers.

The trainer appends; pages read from a byte offset so a refresh costs only the new lines. A
half-written last line is left for the next read; malformed lines are skipped, never fatal.
Records carry ``kind`` ("train" | "eval" | "test"), ``job``, ``step``, ``epoch`` and ``time``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from filelock import FileLock

from arena_core.store.atomic import atomic_write_bytes, storage_error

log = logging.getLogger(__name__)

TRAIN, EVAL, TEST = "train", "eval", "test"
LOCK_SUFFIX = ".lock"


def _writers_lock(path: Path) -> FileLock:
    """The lock every writer of ``path`` takes: with the Ray executor several jobs append to one
    session's file at once while a resuming job may rewrite it (``truncate_job_after``); without
    it a rewrite could drop a line appended meanwhile. An flock: released if its holder dies."""
    return FileLock(str(path) + LOCK_SUFFIX, thread_local=False, preserve_lock_file=True)


class MetricsWriter:
    """Appends records to a metrics file, one flushed line each.

    The file is reopened for every record: a record is written with a single append, and a
    rewrite of the file (``truncate_job_after``) never leaves the writer on a stale inode.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = _writers_lock(self.path)

    def append(self, record: dict[str, Any]) -> None:
        record = {"time": round(time.time(), 3), **record}
        line = (json.dumps(record, ensure_ascii=False, default=_jsonable) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, open(self.path, "a+b") as handle:
                # A crashed writer may have left half a line: never glue a record onto it.
                if handle.seek(0, os.SEEK_END) > 0:
                    handle.seek(-1, os.SEEK_END)
                    if handle.read(1) != b"\n":
                        line = b"\n" + line
                handle.write(line)
                handle.flush()
        except OSError as exc:
            raise storage_error(self.path, exc) from exc


def _jsonable(value: Any) -> Any:
    """numpy scalars/arrays and other odd values become plain JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def read_metrics(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Complete records from byte ``offset`` on, and the offset just after the last complete line."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset  # nothing complete yet (maybe a half-written line)
    records: list[dict[str, Any]] = []
    for number, raw in enumerate(data[: end + 1].splitlines()):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            record = None
        if not isinstance(record, dict):
            log.warning(
                "%s: skipping a malformed metrics line (#%d after byte %d)", path, number, offset
            )
            continue
        records.append(record)
    return records, offset + end + 1


class MetricsTail:
    """Incremental reader: ``poll()`` returns only new records; ``records`` holds all of them.

    When the file is replaced or truncated (another inode, or shorter than what was read),
    it starts again from byte 0 and sets ``reset`` for that poll.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = _writers_lock(self.path)
        self.offset = 0
        self.records: list[dict[str, Any]] = []
        self.reset = False
        self._inode: int | None = None

    def poll(self) -> list[dict[str, Any]]:
        self.reset = False
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            if self.offset or self.records:
                self._restart()
            return []
        if (self._inode is not None and stat.st_ino != self._inode) or stat.st_size < self.offset:
            self._restart()
        self._inode = stat.st_ino
        new, self.offset = read_metrics(self.path, self.offset)
        self.records.extend(new)
        return new

    def _restart(self) -> None:
        self.offset = 0
        self.records = []
        self._inode = None
        self.reset = True


def truncate_job_after(
    path: Path, job_id: str, step: int, *, drop_kinds: tuple[str, ...] = ()
) -> int:
    """Atomically drop ``job_id``'s records with ``step > step`` (other jobs' lines untouched).

    Used on resume so that no step is logged twice; ``step=-1`` drops all of the job's lines.
    ``drop_kinds`` also drops the job's records of those kinds whatever their step.
    Returns the number of lines removed. Damaged lines are kept as they are.
    """
    path = Path(path)
    if not path.exists():
        return 0
    with _writers_lock(path):
        return _drop_job_lines(path, job_id, step, drop_kinds)


def _drop_job_lines(path: Path, job_id: str, step: int, drop_kinds: tuple[str, ...]) -> int:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    kept: list[bytes] = []
    removed = 0
    for raw in data.splitlines(keepends=True):
        try:
            record = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            record = None
            if not raw.endswith(b"\n"):  # half a line left by a crash: drop it
                removed += 1
                continue
        if (
            isinstance(record, dict)
            and record.get("job") == job_id
            and (
                record.get("kind") in drop_kinds
                or (isinstance(record.get("step"), int | float) and record["step"] > step)
            )
        ):
            removed += 1
            continue
        kept.append(raw if raw.endswith(b"\n") else raw + b"\n")
    if removed:
        atomic_write_bytes(path, b"".join(kept))
    return removed
