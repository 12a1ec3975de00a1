"""The session manifest: the single source of truth for what a session is and trains.

Written once when a session is created (atomically, previous version kept as a backup) and
updated only on status changes and repairs. Whether a manifest is complete is ``check``'s
verdict (arena_core.session.check).
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

from arena_core.errors import ManifestError
from arena_core.session.strategy import DEFAULT_AUTO_THRESHOLD, ModelJob, Strategy
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_bytes, remove_stale_temps

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
# Fields this version does not know (written by a newer one) are kept on load and written back,
# at every level, so opening a session never loses what a newer version recorded.
FORWARD_COMPATIBLE = ConfigDict(extra="allow")
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

    model_config = FORWARD_COMPATIBLE

    text_col: str = Field("text", description="column holding the text to classify")
    layout: Literal["annotation-json", "label-columns"] = "annotation-json"
    annotation_col: str | None = Field(None, description="JSON object per row: key -> value(s)")
    label_cols: list[str] = Field(default_factory=list, description="one column per key")
    lang_col: str | None = None
    id_col: str | None = None
    detect_language: bool = Field(False, description="detect languages when no column (lingua)")
    separator: str = Field(";", description="splits multi-valued cells in label columns")


class DatasetSnapshot(BaseModel):
    model_config = FORWARD_COMPATIBLE

    source_name: str
    source_sha256: str
    snapshot_file: str = paths.DATASET_SNAPSHOT
    snapshot_sha256: str | None = None
    n_rows: int
    options: DatasetOptions = Field(default_factory=DatasetOptions)
    warnings: list[str] = Field(default_factory=list)


class KeyInfo(BaseModel):
    """One annotation key after parsing and filtering."""

    model_config = FORWARD_COMPATIBLE

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
    """Hyper-parameters, as chosen; what the defaults decide is derived from them alone."""

    # Unknown names in overrides are refused where overrides are applied (session.relaunch).
    model_config = ConfigDict(extra="allow", validate_assignment=True)

    model: str = Field(
        "minilm", description="'minilm' (packaged default), 'tiny', a folder, or a hub id"
    )
    epochs: int | None = Field(
        None,
        ge=1,
        le=100,
        description="passes over the training rows; empty = sized by the step budget below",
    )
    # The step budget (arena_core.training.budget): small datasets need many more passes than
    # large ones to get the same number of optimizer steps.
    min_steps: int = Field(
        600, ge=1, description="automatic length: enough epochs for at least this many steps"
    )
    min_epochs: int = Field(2, ge=1, le=100, description="automatic length: at least this many")
    max_epochs: int = Field(30, ge=1, le=100, description="automatic length: at most this many")
    batch_size: int = Field(16, ge=1, le=1024)
    eval_batch_size: int = Field(64, ge=1, le=4096)
    # 1e-4, not the usual 5e-5: on 300-row real sets (3 seeds) MiniLM reached macro-F1 +0.10
    # (fortunes) and +0.03 (WordNet) higher, in fewer epochs (BENCHMARKS.md, "Quality").
    learning_rate: float = Field(1e-4, gt=0, lt=1)
    max_length: int = Field(128, ge=8, le=4096)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    early_stopping_patience: int = Field(
        4,
        ge=0,
        description="stop after this many epochs without a better validation macro-F1 (the best "
        "weights are kept); 0 = off",
    )
    class_weights: bool = Field(False, description="weight the loss against label imbalance")
    # 0 by default for memory and speed on CPU: why in arena_core.training.models.set_attention_dropout.
    attention_dropout: float | None = Field(
        0.0,
        ge=0,
        lt=1,
        description="dropout on attention weights; 0 lets PyTorch use its fused attention "
        "kernel (less memory, faster on CPU); empty keeps the model's own value",
    )
    # What 'auto' picks on which hardware, and why training is (not) included: training.precision.
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto",
        description="number format of the model's arithmetic: 'auto' uses bf16 where the "
        "hardware computes it natively (a GPU with bf16, a CPU with AVX512-BF16 or AMX) and "
        "fp32 elsewhere; 'fp16' needs a CUDA GPU",
    )
    seed: int = 42
    logging_steps: int = Field(5, ge=1, description="training-loss log interval (steps)")
    checkpoint_every_steps: int | None = Field(None, ge=1, description="besides each epoch end")


class JobBudget(BaseModel):
    """How long one job trains, as decided when the session was created (training.budget)."""

    model_config = FORWARD_COMPATIBLE

    n_train: int
    epochs: int
    steps_per_epoch: int
    total_steps: int
    auto: bool


class SessionManifest(BaseModel):
    model_config = FORWARD_COMPATIBLE

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
    budget: dict[str, JobBudget] = Field(default_factory=dict)  # job id -> its length
    versions: dict[str, str] = Field(default_factory=dict)
    legacy: dict[str, Any] | None = None  # imported sessions: source, evidence, repairs
    benchmark: dict[str, Any] | None = None  # benchmark group (arena_core.run.benchmark)
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


# ---------------------------------------------------------------- read / write


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """v2 made early stopping a number (0 = off, on by default) and epochs optional (empty =
    sized by the step budget). A v1 session keeps exactly what it trained with: its explicit
    epochs, and no early stopping where it had none (v1's null)."""
    training = raw.get("training")
    if isinstance(training, dict) and training.get("early_stopping_patience", 0) is None:
        training["early_stopping_patience"] = 0
    if isinstance(training, dict) and "epochs" not in training:
        training["epochs"] = 3  # v1's default, which a v1 file without the field trained with
    return raw


def _v2_to_v3(raw: dict[str, Any]) -> dict[str, Any]:
    """v3 added ``training.precision`` ('auto' by default). A v2 session trained in fp32, so it
    keeps fp32: a relaunch or resume reproduces what it trained with."""
    training = raw.get("training")
    if isinstance(training, dict):
        training.setdefault("precision", "fp32")
    return raw


MIGRATIONS = {1: _v1_to_v2, 2: _v2_to_v3}  # schema version -> the step to the next one


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Upgrade an older manifest dict to the current schema, one version at a time."""
    version = raw.get("schema_version", 1)
    if not isinstance(version, int):
        raise ValueError(f"schema_version {version!r} is not a whole number")
    if version > SCHEMA_VERSION:
        log.warning("manifest schema %s is newer than this version (%s)", version, SCHEMA_VERSION)
        return raw
    while version < SCHEMA_VERSION:
        raw = MIGRATIONS[version](raw)
        version += 1
    raw["schema_version"] = version
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
