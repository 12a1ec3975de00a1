"""The session browser's rows on disk: one SQLite file beside the session folders.

Why: a new dashboard process used to parse and check every manifest before it could show the
Sessions page (seconds at 10,000 sessions). This index keeps one row per session with the stamp
it was read at (the manifest's and progress file's mtime and size, as ``listing.json``), so a new
process only stats the files and re-reads the sessions whose stamp changed.

It is a cache, never a source of truth: the folders are. A missing, corrupt, foreign or locked
index reads as empty (everything is re-read from the folders) and a failure to write it is
logged, never raised. Rows are only stored when their stamp had settled (no file changed within
``RECENT_NS`` of the read) and their session was neither active nor unreadable, the rows
``listing.json`` keeps too. Two processes may write it at once: SQLite's WAL journal and a busy
timeout serialise them, and a row carries its own stamp, so the last writer can at worst store
an older row, which its stamp then rejects.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from arena_core.store import paths
from arena_core.store.records import ListingRow

log = logging.getLogger(__name__)

# (manifest mtime_ns, manifest size, progress mtime_ns, progress size); None for a missing file
Stamp = tuple[int | None, int | None, int | None, int | None]
RECENT_NS = 1_000_000_000  # a file changed within 1 s may change again within the same tick
BUSY_TIMEOUT_S = 2.0  # another process writing: wait this long, then skip this write
# The table's layout and the row's fields: an index written by another version is rebuilt.
VERSION = zlib.crc32(f"1:{','.join(ListingRow.model_fields)}".encode()) & 0x7FFFFFFF
_ROWS = TypeAdapter(list[ListingRow])
# SQLite errors that say nothing about the file (another writer, permissions, a full disk)
TRANSIENT = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_READONLY",
    "SQLITE_CANTOPEN",
    "SQLITE_FULL",
    "SQLITE_IOERR",
    "SQLITE_PERM",
    "SQLITE_NOMEM",
    "SQLITE_PROTOCOL",
    "SQLITE_INTERRUPT",
)
_SCHEMA = """CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, manifest_mtime INTEGER, manifest_size INTEGER,
    progress_mtime INTEGER, progress_size INTEGER, row TEXT NOT NULL)"""
_STAMPED = (os.sep + paths.MANIFEST, os.sep + paths.PROGRESS)


def file_stamp(folder: str) -> Stamp:
    """The stamp of a session folder (a string, joined by hand: this runs for every session)."""
    found: list[int | None] = []
    for name in _STAMPED:
        try:
            info = os.stat(folder + name)
        except OSError:
            found += [None, None]
        else:
            found += [info.st_mtime_ns, info.st_size]
    return tuple(found)  # type: ignore[return-value]


def settled(stamp: Stamp, now_ns: int) -> bool:
    """True when no file of ``stamp`` changed within ``RECENT_NS`` of ``now_ns``: a row read
    now is then the content of that stamp (a later write gets a later mtime)."""
    return all(now_ns - m > RECENT_NS for m in (stamp[0], stamp[2]) if m is not None)


def listing_json_stamp(stamp: Stamp) -> list[list[int | None] | None]:
    """``stamp`` as ``listing.json`` writes it (``listing.listing_stamp``)."""
    m_mtime, m_size, p_mtime, p_size = stamp
    return [
        None if m_mtime is None else [m_mtime, m_size],
        None if p_mtime is None else [p_mtime, p_size],
    ]


@dataclass(frozen=True)
class Indexed:
    stamp: Stamp
    row: ListingRow


class SessionIndex:
    """``<sessions>/.index.sqlite``: ``load()`` every stored row, ``save()`` the changes."""

    def __init__(self, sessions_root: Path) -> None:
        self.path = Path(sessions_root) / paths.SESSION_INDEX

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            if _version(db) != VERSION:
                db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
                db.execute("BEGIN IMMEDIATE")
                if _version(db) != VERSION:  # not made by another process meanwhile
                    db.execute("DROP TABLE IF EXISTS sessions")
                    db.execute(_SCHEMA)
                    db.execute(f"PRAGMA user_version={VERSION}")
                db.execute("COMMIT")
            db.execute("PRAGMA synchronous=NORMAL")  # a cache: a lost commit is re-read
        except BaseException:
            db.close()
            raise
        return db

    def load(self) -> dict[str, Indexed]:
        """Every stored row by session id; empty when there is no usable index. Never raises."""
        if not self.path.is_file():
            return {}
        try:
            with contextlib.closing(self._connect()) as db:
                found = db.execute(
                    "SELECT id, manifest_mtime, manifest_size, progress_mtime, progress_size, row"
                    " FROM sessions"
                ).fetchall()
        except sqlite3.DatabaseError as exc:
            self._broken(exc)
            return {}
        except OSError as exc:
            log.warning(
                "session index %s unreadable (%s): listing from the folders", self.path, exc
            )
            return {}
        return _parse(found)

    def save(self, changed: Mapping[str, Indexed], vanished: Collection[str] = ()) -> None:
        """Store ``changed`` rows and forget ``vanished`` ids, in one transaction. Never raises."""
        if not changed and not vanished:
            return
        values = [
            (sid, *entry.stamp, entry.row.model_dump_json()) for sid, entry in changed.items()
        ]
        try:
            with contextlib.closing(self._connect()) as db:
                db.execute("BEGIN IMMEDIATE")
                db.executemany("DELETE FROM sessions WHERE id = ?", [(sid,) for sid in vanished])
                db.executemany("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?)", values)
                db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._broken(exc)
        except OSError as exc:
            log.warning("session index %s not written: %s", self.path, exc)

    def _broken(self, exc: sqlite3.DatabaseError) -> None:
        """Locked, read-only, full: skip it this time. Anything else (not a database, damaged,
        a table of another shape): remove it, the next save rebuilds it."""
        name = getattr(exc, "sqlite_errorname", None)
        if name is None or name.startswith(TRANSIENT):
            log.warning("session index %s skipped: %s", self.path, exc)
            return
        log.warning("session index %s is damaged (%s): rebuilding it", self.path, exc)
        for suffix in ("-wal", "-shm", ""):  # a journal must never outlive its database
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{suffix}")


def _version(db: sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def _validate(text: object) -> ListingRow | None:
    try:
        return ListingRow.model_validate_json(text)  # type: ignore[arg-type]
    except (ValidationError, TypeError, ValueError):
        return None


def _parse(found: list[tuple]) -> dict[str, Indexed]:
    """Rows of the table as ``Indexed``; a bad row is dropped (its session is re-read).

    All rows are validated in one call, not 10,000; when that fails (or a damaged row split
    into several), row by row."""
    texts = [item[5] if isinstance(item[5], str) else "null" for item in found]
    try:
        rows: list[ListingRow | None] = list(_ROWS.validate_json(f"[{','.join(texts)}]"))
    except ValidationError:
        rows = []
    if len(rows) != len(found):
        rows = [_validate(text) for text in texts]
    return {
        item[0]: Indexed(tuple(item[1:5]), row)  # type: ignore[arg-type]
        for item, row in zip(found, rows, strict=True)
        if row is not None and row.id == item[0]
    }
