"""The session manifest: the single source of truth for what a session is and trains.

Written once when a session is created (atomically, previous version kept as a backup) and
updated only on status changes and repairs. ``check`` lists every missing or inconsistent
strategy field, for native and imported sessions alike.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arena_core.errors import ArenaError, ManifestError
from arena_core.session.strategy import DEFAULT_AUTO_THRESHOLD, ModelJob, Strategy, plan_with_notes
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_bytes, remove_stale_temps

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
STRATEGY_FIELDS = ("multiclass_keys", "onevsall_keys", "key_strategies", "files_per_key")
STRATEGY_LISTS = {
    Strategy.MULTI_CLASS: "multiclass_keys",
    Strategy.ONE_VS_ALL: "onevsall_keys",
    Strategy.MULTI_LABEL: "multilabel_keys",
}


def validation_message(exc: ValidationError) -> str:
    """'field: reason' for each problem of a pydantic error, without pydantic's URLs."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ())) or "value"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SessionStatus(StrEnum):
    READY = "ready"  # written, not started
    QUEUED = "queued"  # waiting for a worker slot
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # worker died (derived from a stale heartbeat, or recorded)
    IMPORTED = "imported"  # a legacy session, never run here


class DatasetOptions(BaseModel):
    """How the user's file was read: enough to re-read the same file the same way."""

    model_config = ConfigDict(extra="forbid")

    text_col: str = Field("text", description="column holding the text to classify")
    layout: Literal["annotation-json", "label-columns"] = "annotation-json"
    annotation_col: str | None = Field(None, description="JSON object per row: key -> value(s)")
    label_cols: list[str] = Field(default_factory=list, description="one column per key")
    lang_col: str | None = None
    id_col: str | None = None
    detect_language: bool = Field(False, description="detect languages when no column (lingua)")
    separator: str = Field(";", description="splits multi-valued cells in label columns")


class DatasetSnapshot(BaseModel):
    model_config = ConfigDict(extra="allow")

    source_name: str
    source_sha256: str
    snapshot_file: str = paths.DATASET_SNAPSHOT
    snapshot_sha256: str | None = None
    n_rows: int
    options: DatasetOptions = Field(default_factory=DatasetOptions)
    warnings: list[str] = Field(default_factory=list)


class KeyInfo(BaseModel):
    """One annotation key after parsing and filtering."""

    model_config = ConfigDict(extra="allow")

    labels: list[str]  # kept labels (after min_examples), sorted
    counts: dict[str, int] = Field(default_factory=dict)  # per label, before filtering
    multi_valued: bool = False
    empty_rows: int = 0
    labels_by_language: dict[str, list[str]] = Field(default_factory=dict)


class DroppedLabel(BaseModel):
    key: str
    label: str
    count: int
    language: str | None = None
    rows: list[int] = Field(default_factory=list)


class FilterSettings(BaseModel):
    min_examples: int = Field(2, ge=1, description="labels with fewer examples are dropped")
    dropped: list[DroppedLabel] = Field(default_factory=list)


class LanguageSettings(BaseModel):
    column: str | None = None
    detected: bool = False
    languages: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    per_language: bool = Field(False, description="train every job once per language")


class SplitSettings(BaseModel):
    val_ratio: float = Field(0.2, gt=0, lt=1)
    test_ratio: float = Field(0.0, ge=0, lt=1)
    seed: int = 42
    stratify: bool = True
    file: str = paths.SPLIT_FILE
    sha256: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)


class TrainingConfig(BaseModel):
    """Hyper-parameters. Unknown keys are errors, not silent defaults (relaunch --set ...)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: str = Field(
        "minilm", description="'minilm' (packaged default), 'tiny', a folder, or a hub id"
    )
    epochs: int = Field(3, ge=1, le=100)
    batch_size: int = Field(16, ge=1, le=1024)
    eval_batch_size: int = Field(64, ge=1, le=4096)
    learning_rate: float = Field(5e-5, gt=0, lt=1)
    max_length: int = Field(128, ge=8, le=4096)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    early_stopping_patience: int | None = Field(None, ge=1, description="epochs without gain")
    class_weights: bool = Field(False, description="weight the loss against label imbalance")
    # 0 by default for memory and speed on CPU: why in arena_core.training.models.set_attention_dropout.
    attention_dropout: float | None = Field(
        0.0,
        ge=0,
        lt=1,
        description="dropout on attention weights; 0 lets PyTorch use its fused attention "
        "kernel (less memory, faster on CPU); empty keeps the model's own value",
    )
    seed: int = 42
    logging_steps: int = Field(5, ge=1, description="training-loss log interval (steps)")
    checkpoint_every_steps: int | None = Field(None, ge=1, description="besides each epoch end")


class SessionManifest(BaseModel):
    model_config = ConfigDict(extra="allow")  # keep what a newer version wrote

    schema_version: int = SCHEMA_VERSION
    id: str
    name: str
    created_at: str = Field(default_factory=now_iso)
    updated_at: str = Field(default_factory=now_iso)
    parent: str | None = None
    origin: Literal["native", "legacy"] = "native"
    status: SessionStatus = SessionStatus.READY
    status_reason: str | None = None

    dataset: DatasetSnapshot
    keys: dict[str, KeyInfo]
    requested_strategies: dict[str, str] = Field(default_factory=dict)  # as chosen, 'auto' kept
    auto_threshold: int = DEFAULT_AUTO_THRESHOLD
    # The four fields the previous tool lost, plus multilabel_keys. None means missing.
    key_strategies: dict[str, Strategy] | None = None
    multiclass_keys: list[str] | None = None
    onevsall_keys: list[str] | None = None
    multilabel_keys: list[str] | None = None
    files_per_key: dict[str, str] | None = None

    filtering: FilterSettings = Field(default_factory=FilterSettings)
    language: LanguageSettings = Field(default_factory=LanguageSettings)
    split: SplitSettings = Field(default_factory=SplitSettings)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    plan: list[ModelJob] = Field(default_factory=list)
    versions: dict[str, str] = Field(default_factory=dict)
    legacy: dict[str, Any] | None = None  # imported sessions: source, evidence, repairs
    notes: list[str] = Field(default_factory=list)

    @property
    def approach(self) -> str:
        """multi-class / one-vs-all / multi-label when one strategy for all keys, else hybrid."""
        used = set((self.key_strategies or {}).values())
        if not used:
            return "unknown"
        return next(iter(used)).value if len(used) == 1 else "hybrid"


def strategy_fields(resolved: dict[str, Strategy], files: dict[str, str]) -> dict[str, Any]:
    """The redundant strategy fields, all derived from one resolved mapping so they agree."""
    fields: dict[str, Any] = {"key_strategies": dict(resolved)}
    for strategy, name in STRATEGY_LISTS.items():
        fields[name] = [k for k, s in resolved.items() if s is strategy]
    fields["files_per_key"] = {k: files[k] for k in resolved}
    return fields


# ---------------------------------------------------------------- check


class Problem(BaseModel):
    field: str
    severity: Literal["error", "warning"]
    message: str


def check(manifest: SessionManifest, session_dir: Path | None = None) -> list[Problem]:
    """Every missing or inconsistent strategy field; with ``session_dir`` also the files."""
    problems: list[Problem] = []

    def add(field: str, message: str, severity: Literal["error", "warning"] = "error") -> None:
        problems.append(Problem(field=field, severity=severity, message=message))

    for name in (*STRATEGY_FIELDS, "multilabel_keys"):
        if getattr(manifest, name) is None and name != "multilabel_keys":
            add(name, f"'{name}' is missing: the saved session does not say how to train its keys.")
    keys = set(manifest.keys)
    strategies = manifest.key_strategies
    if strategies is not None:
        for key in sorted(keys - set(strategies)):
            add("key_strategies", f"key '{key}' has no entry in 'key_strategies'.")
        for key in sorted(set(strategies) - keys):
            add(
                "key_strategies",
                f"'key_strategies' names '{key}', which is not a key of the dataset.",
            )
        for key, strategy in strategies.items():
            if strategy is Strategy.AUTO:
                add("key_strategies", f"key '{key}' is still 'auto' (never resolved).")
            list_name = STRATEGY_LISTS.get(strategy)
            members = getattr(manifest, list_name) if list_name else None
            if list_name and members is not None and key not in members:
                add(
                    list_name,
                    f"key '{key}' is {strategy.value} in 'key_strategies' but absent from '{list_name}'.",
                )
        for strategy, list_name in STRATEGY_LISTS.items():
            for key in getattr(manifest, list_name) or []:
                if strategies.get(key) is not strategy:
                    add(
                        list_name,
                        f"'{list_name}' lists '{key}', but 'key_strategies' says {strategies.get(key, 'nothing')}.",
                    )
    if manifest.files_per_key is not None:
        for key in sorted(set(strategies or {}) - set(manifest.files_per_key)):
            add("files_per_key", f"key '{key}' has no data file in 'files_per_key'.")
        if session_dir is not None:
            for key, rel in manifest.files_per_key.items():
                if not (session_dir / rel).is_file():
                    add(
                        "files_per_key", f"the data file of key '{key}' ({rel}) is missing on disk."
                    )
    if strategies is not None:
        try:
            jobs, notes = plan_with_notes(manifest)
        except ArenaError as exc:
            add("plan", str(exc))
        else:
            for note in notes:
                add("plan", note, "warning")
            if manifest.plan and manifest.plan != jobs:
                add(
                    "plan",
                    "the saved plan differs from the plan derived from the strategy fields.",
                    "warning",
                )
    if session_dir is not None:
        problems.extend(_check_files(manifest, session_dir))
    return problems


def _check_files(manifest: SessionManifest, session_dir: Path) -> list[Problem]:
    from arena_core.data.splits import (
        read_split,  # local import: pandas is only needed for file checks
    )

    problems: list[Problem] = []
    if manifest.origin == "legacy" and not manifest.dataset.snapshot_sha256:
        # The legacy data files could not be turned into a training table at import.
        message = "the legacy data could not be turned into a training table (see the notes)."
        return [Problem(field="dataset", severity="error", message=message)]
    snapshot = session_dir / manifest.dataset.snapshot_file
    if not snapshot.is_file():
        problems.append(
            Problem(
                field="dataset",
                severity="error",
                message=f"dataset snapshot {manifest.dataset.snapshot_file} is missing.",
            )
        )
    elif (
        manifest.dataset.snapshot_sha256
        and file_sha256(snapshot) != manifest.dataset.snapshot_sha256
    ):
        problems.append(
            Problem(
                field="dataset",
                severity="error",
                message="dataset snapshot changed since the session was created (hash differs).",
            )
        )
    split_path = session_dir / manifest.split.file
    if not split_path.is_file():
        problems.append(
            Problem(
                field="split",
                severity="error",
                message=f"split file {manifest.split.file} is missing.",
            )
        )
    else:
        try:
            _, digest = read_split(split_path)
        except ArenaError as exc:
            problems.append(Problem(field="split", severity="error", message=str(exc)))
        else:
            if manifest.split.sha256 and digest != manifest.split.sha256:
                problems.append(
                    Problem(
                        field="split",
                        severity="error",
                        message="split assignment differs from the saved hash.",
                    )
                )
    return problems


def is_complete(problems: list[Problem]) -> bool:
    return not any(p.severity == "error" for p in problems)


# ---------------------------------------------------------------- read / write


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Upgrade an older manifest dict to the current schema (none older than v1 exists yet)."""
    version = raw.get("schema_version", 1)
    if version > SCHEMA_VERSION:
        log.warning("manifest schema %s is newer than this version (%s)", version, SCHEMA_VERSION)
    return raw


def parse_manifest(data: bytes | str, source: str = "manifest") -> SessionManifest:
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        return SessionManifest.model_validate(migrate(raw))
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0][:300]
        raise ManifestError(f"{source} is not a valid session manifest: {first}") from exc


def read_manifest(session_dir: Path) -> tuple[SessionManifest, list[str]]:
    """Load a session's manifest, falling back to the backup (with a warning) when damaged."""
    primary = session_dir / paths.MANIFEST
    backup = session_dir / paths.MANIFEST_BACKUP
    try:
        return parse_manifest(primary.read_bytes(), str(primary)), []
    except (OSError, ManifestError) as first_error:
        reason = (
            first_error
            if isinstance(first_error, ManifestError)
            else f"{primary}: {first_error.strerror}"
        )
        try:
            manifest = parse_manifest(backup.read_bytes(), str(backup))
        except (OSError, ManifestError):
            raise ManifestError(
                f"Session {session_dir.name} cannot be read: {reason} (and no valid backup)."
            ) from None
        warning = (
            f"{paths.MANIFEST} was damaged ({reason}); loaded the backup {paths.MANIFEST_BACKUP}."
        )
        log.warning("%s: %s", session_dir.name, warning)
        return manifest, [warning]


def write_manifest(session_dir: Path, manifest: SessionManifest) -> None:
    """Atomic write; the version on disk becomes the backup first."""
    manifest.updated_at = now_iso()
    data = manifest.model_dump_json(indent=2).encode("utf-8") + b"\n"
    primary = session_dir / paths.MANIFEST
    backup = session_dir / paths.MANIFEST_BACKUP
    # Only back up a manifest that parses: a damaged primary must not overwrite a good backup.
    if primary.exists():
        try:
            parse_manifest(primary.read_bytes())
        except (OSError, ManifestError):
            atomic_write_bytes(primary, data)
            return
    atomic_write_bytes(primary, data, backup=backup)
    remove_stale_temps(primary)
