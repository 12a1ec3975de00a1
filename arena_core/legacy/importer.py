"""Import of sessions saved by the previous Training Arena tool (see docs/legacy-sessions.md).

Reading the folders is ``read``, mapping their fields ``mapping``, building the session in
memory ``build``; this module writes built sessions into the store (``import_legacy``).

A legacy session folder is read without ever being modified: its metadata is mapped into a
``SessionManifest`` (origin "legacy", status "imported"), its files are copied verbatim into
``<session>/legacy/``, and when the labels can be attributed to keys the normalised snapshot and
a deterministic split are built so that a repaired session can be relaunched. Strategy fields
are copied only when the legacy metadata has them; ``check`` then names the missing ones and
``repair`` infers them.
"""

from __future__ import annotations

import io
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from arena_core.data.dataset import label_column
from arena_core.data.splits import make_split, split_counts, write_split
from arena_core.errors import ArenaError, ManifestError, StorageError
from arena_core.legacy.build import LegacyBuild, build
from arena_core.legacy.data_files import LegacyLayout
from arena_core.legacy.read import (
    FALLBACK_SECTION,
    FILE_SECTIONS,
    METADATA,
    METADATA_DIR,
    file_roles,
    find_sessions,
    is_legacy_session,
    legacy_target,
    root_of,
)
from arena_core.session.manifest import (
    KeyInfo,
    SessionManifest,
    file_sha256,
    now_iso,
    read_manifest,
)
from arena_core.store.atomic import atomic_write_bytes, storage_error
from arena_core.store.session_store import SessionStore

log = logging.getLogger(__name__)


def _stratify_key(keys: dict[str, KeyInfo], candidates: list[str]) -> list[str]:
    """The column to stratify the split on: the first candidate with one label per row."""
    for key in candidates:
        if key in keys and keys[key].labels and not keys[key].multi_valued:
            return [label_column(key)]
    return []


def session_layout(
    manifest: SessionManifest, folder: Path
) -> tuple[str | None, dict[str, str], LegacyLayout]:
    """For an imported session: which metadata section named the data files, name -> path
    inside the session (present or not), and the roles of the files present on disk."""
    files = (manifest.legacy or {}).get("files") or {}
    for section in (*FILE_SECTIONS, FALLBACK_SECTION):
        entries = {
            name.split(".", 1)[1]: entry
            for name, entry in files.items()
            if name.startswith(section + ".")
        }
        if entries:
            break
    else:
        return None, {}, LegacyLayout()
    targets = {name: legacy_target(entry["recorded"]) for name, entry in entries.items()}

    def on_disk(target: str) -> Path | None:
        return folder / target if (folder / target).is_file() else None

    return section, targets, file_roles(targets, on_disk, LegacyLayout())


def manifest_from_folder(path: Path) -> SessionManifest:
    """The manifest one legacy folder would import as (for ``check PATH``); writes nothing."""
    root = root_of(path)
    if not is_legacy_session(root):
        sessions = find_sessions(root) if root.is_dir() else []
        if sessions:
            listed = ", ".join(s.name for s in sessions[:5]) + (
                ", ..." if len(sessions) > 5 else ""
            )
            raise ManifestError(
                f"{path} holds {len(sessions)} legacy sessions ({listed}): check one session "
                "folder at a time, or import them all with 'import-legacy'."
            )
        raise ManifestError(
            f"{path} is neither a session of this store nor a legacy session folder "
            f"(expected {METADATA_DIR}/{METADATA} inside)."
        )
    return build(root).manifest


# ---------------------------------------------------------------- writing


def write_dataset(
    folder: Path, manifest: SessionManifest, table: pd.DataFrame, stratify_keys: list[str]
) -> None:
    """Write the normalised snapshot and a deterministic split; record their hashes.

    The split is stratified on the first single-valued key of ``stratify_keys`` (the multi-class
    keys as far as the metadata tells), like a native session's first multi-class key.
    """
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    snapshot = folder / manifest.dataset.snapshot_file
    atomic_write_bytes(snapshot, buffer.getvalue())
    manifest.dataset.snapshot_sha256 = file_sha256(snapshot)
    stratify = _stratify_key(manifest.keys, stratify_keys) if manifest.split.stratify else []
    assignment = make_split(
        table, manifest.split.val_ratio, manifest.split.test_ratio, manifest.split.seed, stratify
    )
    manifest.split.sha256 = write_split(folder / manifest.split.file, table["row"], assignment)
    manifest.split.counts = split_counts(assignment)


def _copy_verbatim(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copy2(source, target)
    except OSError as exc:
        raise storage_error(target, exc) from exc
    if file_sha256(source) != file_sha256(target):
        raise StorageError(f"Copy of {source} into {target} differs from the original.")


@dataclass
class ImportReport:
    """What an import did, per legacy folder."""

    imported: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    notes: dict[str, list[str]] = field(default_factory=dict)  # session id -> notes

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        data["unreadable"] = [{"path": p, "reason": r} for p, r in self.unreadable]
        return data


def imported_sources(store: SessionStore) -> dict[str, str]:
    """metadata sha256 -> id of the session already imported from it."""
    found: dict[str, str] = {}
    if not store.sessions_root.is_dir():
        return found
    for folder in sorted(store.sessions_root.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            manifest, _ = read_manifest(folder)
        except ArenaError:
            continue
        if manifest.origin == "legacy" and manifest.legacy:
            digest = manifest.legacy.get("metadata_sha256")
            if digest and manifest.parent is None:
                found.setdefault(digest, manifest.id)
    return found


def import_one(store: SessionStore, built: LegacyBuild) -> SessionManifest:
    """Write one built legacy session into the store (whole or not at all)."""
    manifest = built.manifest.model_copy(deep=True)
    manifest.id, staging = store.reserve(manifest.id)
    manifest.legacy["imported_at"] = now_iso()
    try:
        for target, source in sorted(built.copies.items()):
            _copy_verbatim(source, staging / target)
        if built.labels is not None and built.labels.table is not None:
            write_dataset(staging, manifest, built.labels.table, built.stratify_keys)
        else:
            manifest.notes.append(
                "no dataset snapshot was written: this session can be checked and repaired but "
                "not relaunched."
            )
        return store.create_from_folder(staging, manifest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def import_legacy(store: SessionStore, path: Path, again: bool = False) -> ImportReport:
    """Import one legacy session folder, or every session below a parent folder.

    A folder whose metadata was already imported (same sha256) is skipped unless ``again``;
    an unreadable folder is listed with its reason and the others are still imported.
    """
    sessions = find_sessions(Path(path))
    if not sessions:
        raise ArenaError(
            f"No legacy session found in {path}: expected folders like "
            f"<name>_<YYYYMMDD>_<HHMMSS> holding {METADATA_DIR}/{METADATA}."
        )
    report = ImportReport()
    known = imported_sources(store)
    for folder in sessions:
        try:
            built = build(folder)
        except ArenaError as exc:
            report.unreadable.append((str(folder), str(exc)))
            continue
        digest = built.manifest.legacy["metadata_sha256"]
        if digest in known and not again:
            report.skipped.append(
                (
                    str(folder),
                    f"already imported as {known[digest]} (same metadata, sha256 "
                    f"{digest[:12]}); use --again to import it once more.",
                )
            )
            continue
        try:
            manifest = import_one(store, built)
        except ArenaError as exc:
            report.unreadable.append((str(folder), f"import failed: {exc}"))
            continue
        known.setdefault(digest, manifest.id)
        report.imported.append(manifest.id)
        report.notes[manifest.id] = list(manifest.notes)
        log.info("imported legacy session %s as %s", folder, manifest.id)
    return report
