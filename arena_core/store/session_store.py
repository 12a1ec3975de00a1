"""SessionStore: the sessions folder, the only way front ends read and change sessions."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from filelock import FileLock

from arena_core.errors import ArenaError, ManifestError, SessionBusy, SessionNotFound, StorageError
from arena_core.session.check import check, is_complete
from arena_core.session.manifest import (
    SessionManifest,
    SessionStatus,
    parse_manifest,
    read_manifest,
    write_manifest,
)
from arena_core.session.plan import plan
from arena_core.store import paths
from arena_core.store.atomic import storage_error
from arena_core.store.listing import (
    listing_stamp,
    newest_first,
    read_cached_row,
    session_entries,
    write_cached_row,
)
from arena_core.store.records import ListingRow, read_progress
from arena_core.store.status import ACTIVE, best_macro_f1, effective_status, jobs_done

log = logging.getLogger(__name__)

MANIFEST_LOCK = "manifest.lock"


SessionSummary = ListingRow  # the session browser's row, by the name the pages use


def _planned_count(manifest: SessionManifest) -> int:
    """Models the session trains: derived from the manifest, the saved copy when it can't be."""
    try:
        return len(plan(manifest))
    except ArenaError:
        return len(manifest.plan)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "session"


class SessionStore:
    def __init__(self, home: str | os.PathLike | None = None) -> None:
        # Nothing is created here: a dry run must leave ARENA_HOME untouched.
        self.home = paths.arena_home(home)
        self.sessions_root = self.home / paths.SESSIONS_DIR
        self.trash_root = self.home / paths.TRASH_DIR

    # ------------------------------------------------------------ paths and ids
    def session_dir(self, session_id: str) -> Path:
        return self.sessions_root / paths.validate_session_id(session_id)

    def existing_dir(self, session_id: str) -> Path:
        folder = self.session_dir(session_id)
        if not folder.is_dir():
            raise SessionNotFound(
                f"No session '{session_id}' in {self.sessions_root}. "
                "List sessions with 'python -m arena_core list'."
            )
        return folder

    def base_id(self, name: str) -> str:
        """<name>_<YYYYMMDD>_<HHMMSS>, like the previous tool's session ids."""
        return f"{_slug(name)}_{datetime.now().strftime('%Y%m%d_%H%M%S')}"

    def reserve(self, wanted: str) -> tuple[str, Path]:
        """A free session id and its empty staging folder, reserved atomically.

        The staging folder is created with an exclusive mkdir, so two creations with the same
        name in the same second (two tabs, two processes) get different ids instead of sharing
        a staging folder. The staging folder sits beside the sessions, on the same disk, so the
        final move into place is one atomic rename.
        """
        paths.validate_session_id(wanted)
        try:
            self.sessions_root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(self.sessions_root, exc) from exc
        for n in range(1, 10_000):
            candidate = wanted if n == 1 else f"{wanted}_{n}"
            staging = self.sessions_root / f".staging-{candidate}"
            if (self.sessions_root / candidate).exists():
                continue
            try:
                staging.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise storage_error(staging, exc) from exc
            try:
                (staging / paths.DATA_DIR).mkdir()
            except OSError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                raise storage_error(staging, exc) from exc
            return candidate, staging
        raise StorageError(f"No free session id for '{wanted}' in {self.sessions_root}.")

    # ------------------------------------------------------------ read
    def load(self, session_id: str) -> SessionManifest:
        return self.load_with_warnings(session_id)[0]

    def load_with_warnings(self, session_id: str) -> tuple[SessionManifest, list[str]]:
        return read_manifest(self.existing_dir(session_id))

    def status(self, session_id: str) -> SessionStatus:
        """The status to show: the recorded one, corrected for dead workers."""
        manifest = self.load(session_id)
        return effective_status(manifest.status, read_progress(self.session_dir(session_id)))

    def summary(self, session_id: str) -> SessionSummary:
        """A fresh summary read from the manifest and progress files (no cache)."""
        folder = self.session_dir(session_id)
        try:
            manifest, warnings = read_manifest(folder)
        except ManifestError as exc:
            return SessionSummary(id=session_id, error=str(exc))
        progress = read_progress(folder)
        return SessionSummary(
            id=manifest.id,
            name=manifest.name,
            status=effective_status(manifest.status, progress),
            created_at=manifest.created_at,
            n_jobs=_planned_count(manifest),
            complete=is_complete(check(manifest)),
            parent=manifest.parent,
            origin=manifest.origin,
            approach=manifest.approach,
            keys=list(manifest.keys),
            jobs_done=jobs_done(progress),
            best_macro_f1=best_macro_f1(progress),
            model=manifest.training.model,
            warnings=warnings,
        )

    def _cached_summary(self, folder: Path) -> SessionSummary:
        """The summary from listing.json when the manifest and progress files are unchanged.

        Listing 10,000 sessions must take seconds, not minutes: parsing and checking every
        manifest each time is the cost this cache avoids. The cache is keyed on the two files'
        (mtime, size), so any write, by us or by hand, invalidates it. Active sessions are always
        recomputed because a dead worker changes their status without touching any file.
        """
        stamp = listing_stamp(folder)
        cached = read_cached_row(folder, stamp)
        if cached is not None:
            return cached
        summary = self.summary(folder.name)
        write_cached_row(folder, stamp, summary)
        return summary

    def refresh_listing(self, session_id: str) -> None:
        """Precompute a session's browser row (creation, end of training), so the first listing
        after many sessions were made does not parse every manifest."""
        with contextlib.suppress(ArenaError, OSError):
            self._cached_summary(self.session_dir(session_id))

    def list(self) -> list[SessionSummary]:
        """Every session, newest first. A damaged folder is listed with its error, never fatal."""
        if not self.sessions_root.is_dir():
            return []
        return newest_first(
            [
                self._cached_summary(Path(entry.path))
                for entry in session_entries(self.sessions_root, warn=True)
            ]
        )

    def ids(self) -> list[str]:
        return [s.id for s in self.list()]

    def ids_named_like(self, name: str) -> list[str]:
        """Ids of the sessions whose id was made from ``name`` (see base_id): a family's
        sessions, found from folder names alone, without reading every manifest."""
        if not self.sessions_root.is_dir():
            return []
        prefix = f"{_slug(name)}_"
        return [
            entry.name
            for entry in os.scandir(self.sessions_root)
            if entry.name.startswith(prefix) and entry.is_dir()
        ]

    # ------------------------------------------------------------ write
    def create_from_folder(self, staging: Path, manifest: SessionManifest) -> SessionManifest:
        """Move a fully written staging folder into place: a session appears whole or not at all."""
        manifest.id = paths.validate_session_id(manifest.id)
        write_manifest(staging, manifest)
        target = self.session_dir(manifest.id)
        if target.exists():  # rename() would silently replace an empty folder
            raise StorageError(f"Session {manifest.id} already exists; nothing was overwritten.")
        try:
            os.rename(staging, target)
        except OSError as exc:
            raise storage_error(target, exc) from exc
        self.refresh_listing(manifest.id)
        return manifest

    def update(self, session_id: str, change: Callable[[SessionManifest], None]) -> SessionManifest:
        """Read-modify-write the manifest under the session's manifest lock."""
        folder = self.existing_dir(session_id)
        try:
            lock = FileLock(str(folder / MANIFEST_LOCK), timeout=30)
            with lock:
                manifest, _ = read_manifest(folder)
                change(manifest)
                write_manifest(folder, manifest)
        except OSError as exc:  # the lock file itself cannot be created (read-only, full)
            raise storage_error(folder / MANIFEST_LOCK, exc) from exc
        return manifest

    def set_status(
        self, session_id: str, status: SessionStatus, reason: str | None = None
    ) -> SessionManifest:
        def change(manifest: SessionManifest) -> None:
            manifest.status = status
            manifest.status_reason = reason

        return self.update(session_id, change)

    def trash(self, session_id: str) -> Path:
        """Soft delete: move the folder to ARENA_HOME/trash (refused while it trains)."""
        folder = self.existing_dir(session_id)
        try:
            active = self.status(session_id) in ACTIVE
        except ManifestError:  # an unreadable session has no worker to protect
            active = False
        if active:
            raise SessionBusy(f"Session {session_id} is running or queued: cancel it first.")
        target = self.trash_root / f"{session_id}__{int(time.time())}"
        try:
            self.trash_root.mkdir(parents=True, exist_ok=True)
            os.replace(folder, target)
        except OSError as exc:
            raise StorageError(f"Cannot move {session_id} to the trash: {exc}.") from exc
        return target

    def load_raw(self, path: Path) -> SessionManifest:
        """A manifest file given by path (check PATH)."""
        try:
            return parse_manifest(Path(path).read_bytes(), str(path))
        except OSError as exc:
            raise ManifestError(f"Cannot read {path}: {exc.strerror}.") from exc
