"""A legacy session folder -> the session it imports as, in memory (nothing is written).

Its metadata is mapped (see ``mapping``) into a ``SessionManifest`` with origin "legacy" and
status "imported", its data files are read into labels and (when every label has one key) a
normalised table, and the files to copy verbatim are listed. ``importer`` writes the result
into the store; ``check PATH`` only looks at the manifest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena_core.errors import ArenaError
from arena_core.legacy.data_files import LegacyLayout, distribution_values
from arena_core.legacy.labels import LegacyLabels, load_labels
from arena_core.legacy.mapping import LegacyMapper
from arena_core.legacy.read import (
    METADATA,
    METADATA_BACKUP,
    RESUME,
    STAMP,
    LegacyMetadata,
    first_existing,
    read_metadata,
    section_of,
)
from arena_core.session.manifest import (
    DatasetSnapshot,
    FilterSettings,
    KeyInfo,
    LanguageSettings,
    SessionManifest,
    SessionStatus,
    now_iso,
)
from arena_core.session.plan import plan_with_notes
from arena_core.session.strategy import Strategy
from arena_core.store import paths


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


def build(path: Path) -> LegacyBuild:
    """Map one legacy session folder into a manifest in memory (nothing is written)."""
    meta = read_metadata(path)
    mapper = LegacyMapper(meta)
    data = meta.data
    session = section_of(data, "training_session")
    legacy_id = str(session.get("session_id") or meta.folder.name)

    keys = mapper.keys()
    file_layout = mapper.layout(keys)
    if not keys:
        keys = mapper.guess_keys(file_layout)
    fields = mapper.strategy_fields()
    labels = _load_labels(mapper, file_layout, keys, _onevsall_candidates(fields))
    key_infos = {k: (labels.keys[k] if labels else KeyInfo(labels=[])) for k in keys}
    multiclass_hint = fields.get("multiclass_keys") or list(file_layout.multiclass)
    languages = labels.languages if labels else {}
    table = labels.table if labels else None
    split = mapper.split()
    per_language = _per_language(data, languages, mapper.notes)
    legacy_info = _legacy_info(meta, mapper, session, legacy_id)
    manifest = SessionManifest(
        id=_session_id(legacy_id),
        name=_session_name(legacy_id),
        created_at=str(data.get("created_at") or now_iso()),
        origin="legacy",
        status=SessionStatus.IMPORTED,
        status_reason=_status_reason(section_of(data, "execution_status")),
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


def _onevsall_candidates(fields: dict[str, Any]) -> list[str] | None:
    """The keys the one-vs-all file may hold, as far as the strategy fields say (None: unknown)."""
    candidates = fields.get("onevsall_keys")
    if candidates is None and "key_strategies" in fields:
        candidates = [k for k, s in fields["key_strategies"].items() if s is Strategy.ONE_VS_ALL]
    return candidates


def _load_labels(
    mapper: LegacyMapper,
    file_layout: LegacyLayout,
    keys: list[str],
    candidates: list[str] | None,
) -> LegacyLabels | None:
    """The labels of the data files (None without any), noting why no snapshot can be built."""
    if not (file_layout.multiclass or file_layout.onevsall or file_layout.consolidated):
        mapper.notes.append("no training data file was found: the dataset cannot be rebuilt.")
        return None
    labels = load_labels(
        file_layout,
        keys,
        candidates,
        distribution_values(mapper.dc.get("category_distribution"), keys),
    )
    mapper.notes.extend(labels.warnings)
    if labels.table is None:
        mapper.notes.append(
            "the dataset snapshot cannot be built: " + "; ".join(labels.problems) + "."
        )
    return labels


def _per_language(data: dict[str, Any], languages: dict[str, int], notes: list[str]) -> bool:
    """Whether to train per language: as the legacy session did, unless the data has none."""
    per_language = bool(section_of(data, "language_config").get("per_language_training"))
    if per_language and not languages:
        notes.append(
            "the legacy session trained per language, but its data has no 'lang': "
            "one model per key/value is planned instead."
        )
        return False
    return per_language


def _legacy_info(
    meta: LegacyMetadata, mapper: LegacyMapper, session: dict[str, Any], legacy_id: str
) -> dict[str, Any]:
    """The manifest's ``legacy`` record: where the session came from and what it said."""
    data = meta.data
    model_config = section_of(data, "model_config")
    status = section_of(data, "execution_status")
    return {
        "source_path": str(meta.folder),
        "session_id": legacy_id,
        "metadata_file": meta.file.relative_to(meta.folder).as_posix(),
        "metadata_sha256": meta.sha256,
        "read_from_backup": meta.file.name == METADATA_BACKUP,
        "tool_version": session.get("tool_version"),
        "selected_model": model_config.get("selected_model"),
        "training_approach": mapper.dc.get("training_approach"),
        "status": status.get("status"),
        "error_message": status.get("error_message"),
        "files": mapper.files,
        "copied": [],
        "imported_at": None,
        "repairs": [],
        "metadata": data,
    }


def _status_reason(status: dict[str, Any]) -> str:
    """Why the session is "imported", quoting the legacy status and error."""
    reason = f"imported from the previous tool (legacy status: {status.get('status', 'unknown')}"
    if status.get("error_message"):
        reason += f", {status['error_message']}"
    return reason + ")"


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
