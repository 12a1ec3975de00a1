"""The session browser's rows, fast: the sessions folder scanned once, rows read from caches.

Three caches, all rebuilt from the session folders at any time:

- ``listing.json`` in each session folder: its row, keyed on the (mtime, size) of the manifest
  and progress files, so a first listing after a restart does not parse every manifest
  (``read_cached_row`` / ``write_cached_row``, used by ``SessionStore.list``);
- ``ListingCache``: rows kept in memory by a long-lived process (the dashboard), keyed on each
  session folder's mtime, so a rerun re-reads only the sessions that changed;
- the session index (``session_index.py``): the same rows, keyed like ``listing.json``, in one
  SQLite file that ``ListingCache`` loads once per process, so a new dashboard process shows
  10,000 sessions without opening 10,000 files.

Queued and running sessions are never taken from a cache: a worker that dies changes their
status without touching any file.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

from pydantic import ValidationError

from arena_core.errors import ArenaError
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_json, read_json
from arena_core.store.records import ListingRow
from arena_core.store.session_index import (
    RECENT_NS,
    Indexed,
    SessionIndex,
    Stamp,
    file_stamp,
    listing_json_stamp,
    settled,
)
from arena_core.store.status import ACTIVE

log = logging.getLogger(__name__)


def session_entries(
    root: Path, warn: bool = False, valid: Container[str] = ()
) -> Iterator[os.DirEntry[str]]:
    """The session folders of ``root`` (hidden entries, files and odd names skipped; names in
    ``valid`` were checked before)."""
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            try:
                if entry.name not in valid:
                    paths.validate_session_id(entry.name)
            except ArenaError:
                if warn:
                    log.warning("skipping odd folder %s in the sessions folder", entry.name)
                continue
            yield entry


def newest_first(rows: list[ListingRow]) -> list[ListingRow]:
    rows.sort(key=attrgetter("created_at", "id"), reverse=True)
    return rows


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No garbage collection while this lasts. Building 10,000 rows at once sets off collections
    that each scan the whole heap of a server: a third of a first listing's time, for nothing
    (rows hold no cycles)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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


@dataclass(frozen=True)
class _Known:
    """A row held in memory, with what it was read at.

    ``folder_mtime`` is set only when the folder had settled when seen (a rename in the same
    clock tick would keep its mtime); ``trusted`` when the files had settled when the row was
    read, so an equal stamp later means the same content.
    """

    folder_mtime: int | None
    stamp: Stamp
    row: ListingRow
    trusted: bool


class ListingCache:
    """Rows of one store kept in memory (one per process, shared by every browser tab), and on
    disk in the session index (``session_index.py``) for the next process.

    Every write into a session folder (manifest, progress.json) is an atomic rename, which
    updates the folder's mtime: a row known in memory is reused while its folder keeps the
    mtime it had settled at. Otherwise the folder's files are statted and a row whose stamp is
    unchanged (in memory or in the index) is reused; only the others are read, from a valid
    ``listing.json`` or from the manifest. Queued and running rows are always read. 10,000
    sessions in a new process: one scandir, three stats each and one SQLite query.
    """

    def __init__(self, persist: bool = True) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Known] = {}
        self._sorted: list[ListingRow] = []  # the last answer, newest first
        self._persist = persist  # False: memory only (no index file read or written)
        self._stored: dict[str, Indexed] | None = None  # the index, until the first listing
        self._indexed: set[str] = set()  # ids this process believes the index holds

    def rows(self, root: Path, summarize: Callable[[str], ListingRow]) -> list[ListingRow]:
        """The rows of the sessions in ``root`` (``summarize(id)`` builds one), newest first,
        re-reading only the sessions that changed since last time (or since the index was
        written)."""
        if not root.is_dir():
            return []
        index = SessionIndex(root) if self._persist else None
        with self._lock:
            if self._stored is not None:
                return self._rows(root, summarize, index)
            with gc_paused():  # the first listing of a process builds every row
                self._stored = index.load() if index else {}
                self._indexed = set(self._stored)
                return self._rows(root, summarize, index)

    def _rows(
        self, root: Path, summarize: Callable[[str], ListingRow], index: SessionIndex | None
    ) -> list[ListingRow]:
        now = time.time_ns()
        old = self._entries
        fresh: dict[str, _Known] = {}
        changed: dict[str, Indexed] = {}
        same = True  # every row is the one of the last answer
        for entry in session_entries(root, valid=old):  # names this process checked
            try:
                mtime = entry.stat().st_mtime_ns
            except OSError:
                continue
            known = old.get(entry.name)
            if known and known.folder_mtime == mtime and known.row.status not in ACTIVE:
                fresh[entry.name] = known
                continue
            found, read = self._check(entry, mtime, now, known, summarize)
            fresh[entry.name] = found
            same = same and known is not None and found.row is known.row
            new = read or entry.name not in self._indexed
            if new and found.trusted and found.row.error is None:
                changed[entry.name] = Indexed(found.stamp, found.row)
        if not same or len(fresh) != len(old):
            self._sorted = newest_first([known.row for known in fresh.values()])
        self._entries, self._stored = fresh, {}
        self._save(index, changed, self._indexed - fresh.keys())
        return list(self._sorted)

    def _check(
        self,
        entry: os.DirEntry[str],
        mtime: int,
        now: int,
        known: _Known | None,
        summarize: Callable[[str], ListingRow],
    ) -> tuple[_Known, bool]:
        """The row of a folder not known by its mtime: by its stamp, else read (True)."""
        folder_mtime = mtime if now - mtime > RECENT_NS else None
        stamp = file_stamp(entry.path)
        stored = self._stored.get(entry.name) if self._stored else None  # always trusted
        for candidate in (known if known and known.trusted else None, stored):
            if candidate and candidate.stamp == stamp and candidate.row.status not in ACTIVE:
                return _Known(folder_mtime, stamp, candidate.row, True), False
        row = read_cached_row(Path(entry.path), listing_json_stamp(stamp))
        if row is None:
            row = summarize(entry.name)
        trusted = settled(stamp, now) and row.status not in ACTIVE
        return _Known(folder_mtime, stamp, row, trusted), True

    def _save(
        self, index: SessionIndex | None, changed: dict[str, Indexed], gone: set[str]
    ) -> None:
        if index is None or not (changed or gone):
            return
        index.save(changed, gone)
        self._indexed = (self._indexed - gone) | changed.keys()
