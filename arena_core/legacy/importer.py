"""Import of sessions saved by the previous Training Arena tool (see docs/legacy-sessions.md).

Reading the folders is ``legacy_read``, mapping their fields ``legacy_map``; this module builds
the session in memory (``build``) and imports it (``import_legacy``).

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
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from arena_core.data.dataset import label_column
from arena_core.data.splits import make_split, split_counts, write_split
from arena_core.errors import ArenaError, ManifestError, StorageError
from arena_core.legacy.data_files import (
    LegacyLabels,
    LegacyLayout,
    distribution_values,
    load_labels,
)
from arena_core.legacy.mapping import LegacyMapper
from arena_core.legacy.read import (
    FALLBACK_SECTION,
    FILE_SECTIONS,
    METADATA,
    METADATA_BACKUP,
    METADATA_DIR,
    RESUME,
    STAMP,
    file_roles,
    find_sessions,
    first_existing,
    is_legacy_session,
    legacy_target,
    read_metadata,
    root_of,
    section_of,
)
from arena_core.session.manifest import (
    DatasetSnapshot,
    FilterSettings,
    KeyInfo,
    LanguageSettings,
    SessionManifest,
    SessionStatus,
    file_sha256,
    now_iso,
    read_manifest,
)
from arena_core.session.strategy import Strategy, plan_with_notes
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_bytes, storage_error
from arena_core.store.session_store import SessionStore

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- mapping


@dataclass
class LegacyBuild:
    """An imported session in memory: the manifest, the labels and the files to copy."""

    folder: Path
    manifest: SessionManifest
    labels: LegacyLabels | None
    copies: dict[str, Path]  # path inside our session folder -> source file
    notes: list[str]
    stratify_keys: list[str] = field(default_factory=list)  # multi-class keys, as far as known


def _session_name(legacy_id: str) -> str:
    return STAMP.sub("", legacy_id) or legacy_id


def _stratify_key(keys: dict[str, KeyInfo], candidates: list[str]) -> list[str]:
    for key in candidates:
        if key in keys and keys[key].labels and not keys[key].multi_valued:
            return [label_column(key)]
    return []


def build(path: Path) -> LegacyBuild:
    """Map one legacy session folder into a manifest in memory (nothing is written)."""
    meta = read_metadata(path)
    mapper = LegacyMapper(meta)
    data, dc = meta.data, mapper.dc
    session = section_of(data, "training_session")
    legacy_id = str(session.get("session_id") or meta.folder.name)

    keys = mapper.keys()
    file_layout = mapper.layout(keys)
    if not keys:
        keys = mapper.guess_keys(file_layout)
    fields = mapper.strategy_fields()
    candidates = fields.get("onevsall_keys")
    if candidates is None and "key_strategies" in fields:
        candidates = [k for k, s in fields["key_strategies"].items() if s is Strategy.ONE_VS_ALL]
    labels = None
    if file_layout.multiclass or file_layout.onevsall or file_layout.consolidated:
        labels = load_labels(
            file_layout,
            keys,
            candidates,
            distribution_values(dc.get("category_distribution"), keys),
        )
        mapper.notes.extend(labels.warnings)
        if labels.table is None:
            mapper.notes.append(
                "the dataset snapshot cannot be built: " + "; ".join(labels.problems) + "."
            )
    else:
        mapper.notes.append("no training data file was found: the dataset cannot be rebuilt.")
    key_infos = {k: (labels.keys[k] if labels else KeyInfo(labels=[])) for k in keys}

    multiclass_hint = fields.get("multiclass_keys") or list(file_layout.multiclass)
    split = mapper.split()
    languages = labels.languages if labels else {}
    per_language = bool(section_of(data, "language_config").get("per_language_training"))
    if per_language and not languages:
        mapper.notes.append(
            "the legacy session trained per language, but its data has no 'lang': "
            "one model per key/value is planned instead."
        )
        per_language = False
    model_config = section_of(data, "model_config")
    status = section_of(data, "execution_status")
    approach = dc.get("training_approach")
    legacy_info = {
        "source_path": str(meta.folder),
        "session_id": legacy_id,
        "metadata_file": meta.file.relative_to(meta.folder).as_posix(),
        "metadata_sha256": meta.sha256,
        "read_from_backup": meta.file.name == METADATA_BACKUP,
        "tool_version": session.get("tool_version"),
        "selected_model": model_config.get("selected_model"),
        "training_approach": approach,
        "status": status.get("status"),
        "error_message": status.get("error_message"),
        "files": mapper.files,
        "copied": [],
        "imported_at": None,
        "repairs": [],
        "metadata": data,
    }
    reason = f"imported from the previous tool (legacy status: {status.get('status', 'unknown')}"
    if status.get("error_message"):
        reason += f", {status['error_message']}"
    table = labels.table if labels else None
    manifest = SessionManifest(
        id=_session_id(legacy_id),
        name=_session_name(legacy_id),
        created_at=str(data.get("created_at") or now_iso()),
        origin="legacy",
        status=SessionStatus.IMPORTED,
        status_reason=reason + ")",
        dataset=DatasetSnapshot(
            source_name=(file_layout.consolidated or Path(legacy_id)).name,
            source_sha256=meta.sha256,
            n_rows=len(table) if table is not None else 0,
        ),
        keys=key_infos,
        filtering=FilterSettings(min_examples=1),  # the previous tool trained every value
        language=LanguageSettings(
            languages=sorted(languages), counts=dict(languages), per_language=per_language
        ),
        split=split,
        training=mapper.training(),
        legacy=legacy_info,
        **fields,
    )
    if manifest.key_strategies is not None:
        try:
            manifest.plan, plan_notes = plan_with_notes(manifest)
            mapper.notes.extend(plan_notes)
        except ArenaError as exc:
            mapper.notes.append(f"no plan: {exc}")
    manifest.notes = mapper.notes
    _add_source_copies(meta.folder, mapper.copies)
    legacy_info["copied"] = sorted(mapper.copies)
    return LegacyBuild(meta.folder, manifest, labels, mapper.copies, mapper.notes, multiclass_hint)


def _add_source_copies(folder: Path, copies: dict[str, Path]) -> None:
    """Metadata, backup and resume.json are copied verbatim, at their relative place."""
    for name in (METADATA, METADATA_BACKUP):
        path = first_existing(folder, name)
        if path is not None:
            copies[f"{paths.LEGACY_DIR}/{path.relative_to(folder).as_posix()}"] = path
    if (folder / RESUME).is_file():
        copies[f"{paths.LEGACY_DIR}/{RESUME}"] = folder / RESUME


def _session_id(legacy_id: str) -> str:
    candidate = re.sub(r"[^A-Za-z0-9_.-]+", "-", legacy_id).strip("-.")[:100]
    candidate = re.sub(r"\.{2,}", ".", candidate)
    return candidate if candidate and candidate[0].isalnum() else f"legacy-{candidate or 'session'}"


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
