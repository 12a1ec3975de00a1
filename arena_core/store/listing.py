"""The session browser's rows, fast: the sessions folder scanned once, rows read from caches.

Two caches, both rebuilt from the session folders at any time:

- ``listing.json`` in each session folder: its row, keyed on the (mtime, size) of the manifest
  and progress files, so a first listing after a restart does not parse every manifest
  (``read_cached_row`` / ``write_cached_row``, used by ``SessionStore.list``);
- ``ListingCache``: rows kept in memory by a long-lived process (the dashboard), keyed on each
  session folder's mtime, so a rerun re-reads only the sessions that changed.

Queued and running sessions are never taken from a cache: a worker that dies changes their
status without touching any file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pydantic import ValidationError

from arena_core.errors import ArenaError
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_json, read_json
from arena_core.store.records import ListingRow
from arena_core.store.status import ACTIVE

log = logging.getLogger(__name__)

RECENT_NS = 1_000_000_000  # a folder changed within 1 s may change again within the same tick


def session_entries(root: Path, warn: bool = False) -> Iterator[os.DirEntry[str]]:
    """The session folders of ``root`` (hidden entries, files and odd names skipped)."""
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            try:
                paths.validate_session_id(entry.name)
            except ArenaError:
                if warn:
                    log.warning("skipping odd folder %s in the sessions folder", entry.name)
                continue
            yield entry


def newest_first(rows: list[ListingRow]) -> list[ListingRow]:
    rows.sort(key=lambda row: (row.created_at, row.id), reverse=True)
    return rows


# ---------------------------------------------------------------- listing.json


def _stat_key(path: Path) -> list[int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return [info.st_mtime_ns, info.st_size]


def listing_stamp(folder: Path) -> list[list[int] | None]:
    """What a cached row is valid for: the manifest's and progress file's (mtime, size)."""
    return [_stat_key(folder / paths.MANIFEST), _stat_key(folder / paths.PROGRESS)]


def read_cached_row(folder: Path, stamp: Sequence[object]) -> ListingRow | None:
    """The row in listing.json when it was cached for ``stamp`` and is not active, else None."""
    try:
        cached = read_json(folder / paths.LISTING_CACHE)
        if cached.get("stamp") != stamp:
            return None
        row = ListingRow.model_validate(cached["summary"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ValidationError):
        return None
    return None if row.status in ACTIVE else row


def write_cached_row(folder: Path, stamp: Sequence[object], row: ListingRow) -> None:
    """Cache a readable, inactive row (a read-only store still lists: errors are ignored)."""
    if row.error is not None or row.status in ACTIVE:
        return
    with contextlib.suppress(ArenaError):
        atomic_write_json(
            folder / paths.LISTING_CACHE,
            {"stamp": list(stamp), "summary": row.to_json()},
            durable=False,
        )


# ---------------------------------------------------------------- in memory


class ListingCache:
    """Rows of one store kept in memory (one per process, shared by every browser tab).

    Every write into a session folder (manifest, progress.json) is an atomic rename, which
    updates the folder's mtime: a row is re-read only when its folder changed, was changed in
    the last second, or is live. 10,000 sessions: one scandir.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[int, ListingRow]] = {}

    def rows(self, root: Path, summarize: Callable[[str], ListingRow]) -> list[ListingRow]:
        """The rows of the sessions in ``root`` (``summarize(id)`` builds one), re-reading only
        the sessions whose folder changed since last time."""
        if not root.is_dir():
            return []
        now = time.time_ns()
        with self._lock:
            fresh: dict[str, tuple[int, ListingRow]] = {}
            for entry in session_entries(root):
                try:
                    mtime = entry.stat().st_mtime_ns
                except OSError:
                    continue
                known = self._entries.get(entry.name)
                if (
                    known
                    and known[0] == mtime
                    and now - mtime > RECENT_NS
                    and known[1].status not in ACTIVE
                ):
                    fresh[entry.name] = known
                else:
                    fresh[entry.name] = (mtime, summarize(entry.name))
            self._entries = fresh
        return newest_first([row for _, row in fresh.values()])
