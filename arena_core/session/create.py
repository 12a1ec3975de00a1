"""Turning a dataset and the user's choices into a session: prepare (no writes), then create.

``prepare`` does every check that can fail (columns, strategies, empty plan) before anything is
written, so bad input never leaves a half-created session. ``create`` writes the snapshot, the
split and the manifest into a staging folder and moves it into place in one rename.
"""

from __future__ import annotations

import io
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from arena_core.data.dataset import NormalisedDataset, label_column, load_dataset
from arena_core.data.filtering import apply_min_examples
from arena_core.data.splits import make_split, split_counts, split_hash, write_split
from arena_core.errors import ArenaError, ManifestError, StrategyError
from arena_core.session.manifest import (
    DatasetSnapshot,
    FilterSettings,
    LanguageSettings,
    SessionManifest,
    SessionStatus,
    SplitSettings,
    TrainingConfig,
    file_sha256,
    strategy_fields,
)
from arena_core.session.plan import plan_with_notes as derive_plan
from arena_core.session.strategy import (
    DEFAULT_AUTO_THRESHOLD,
    ModelJob,
    Strategy,
    auto_strategy,
    parse_strategy,
)
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_bytes
from arena_core.store.session_store import SessionStore
from arena_core.training.budget import session_budget
from arena_core.training.precision import require_supported

log = logging.getLogger(__name__)


@dataclass
class SessionSettings:
    """Everything the user chooses besides the data file itself."""

    strategies: dict[str, str] = field(default_factory=dict)  # key -> strategy; missing = auto
    auto_threshold: int = DEFAULT_AUTO_THRESHOLD
    per_language: bool = False
    min_examples: int = 2
    split: SplitSettings = field(default_factory=SplitSettings)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    name: str | None = None


@dataclass
class PreparedSession:
    """A session fully checked in memory; ``create_session`` writes it."""

    manifest: SessionManifest
    dataset: NormalisedDataset
    split: pd.Series
    jobs: list[ModelJob]
    notes: list[str]


def library_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for name in ("training-arena", "torch", "transformers", "pandas", "pydantic", "scikit-learn"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def resolve_strategies(
    dataset: NormalisedDataset, requested: dict[str, str], threshold: int, kept: dict
) -> dict[str, Strategy]:
    """Resolve 'auto' per key and refuse impossible choices with the rows that make them so."""
    unknown = sorted(set(requested) - set(dataset.keys))
    if unknown:
        raise StrategyError(
            f"Strategy given for unknown key(s) {', '.join(unknown)}; the keys of this dataset "
            f"are: {', '.join(dataset.keys)}."
        )
    resolved: dict[str, Strategy] = {}
    for key, stats in dataset.keys.items():
        strategy = parse_strategy(requested.get(key, Strategy.AUTO.value))
        if strategy is Strategy.AUTO:
            strategy = auto_strategy(stats.multi_valued, len(kept[key].labels), threshold)
        if strategy is Strategy.MULTI_CLASS and stats.multi_valued:
            column = dataset.table[label_column(key)]
            rows = dataset.table.loc[column.map(len) > 1, "row"].head(10).tolist()
            listed = ", ".join(str(r + 1) for r in rows)
            raise StrategyError(
                f"Key '{key}' cannot be multi-class: some rows hold several values (data rows "
                f"{listed}{', ...' if len(rows) == 10 else ''}). Choose one-vs-all or "
                "multi-label for it, or fix those rows."
            )
        resolved[key] = strategy
    return resolved


def prepare(
    dataset: NormalisedDataset,
    settings: SessionSettings,
    source_sha256: str,
    session_id: str = "pending",
) -> PreparedSession:
    """Build and check the manifest in memory. Raises ArenaError; writes nothing."""
    require_supported(settings.training.precision)  # fp16 without a CUDA GPU
    if settings.per_language and not dataset.languages:
        raise ArenaError(
            "Per-language models need a language for each text: choose a language column or "
            "turn on language detection, or turn per-language models off."
        )
    filtered = apply_min_examples(dataset, settings.min_examples, settings.per_language)
    resolved = resolve_strategies(
        dataset, settings.strategies, settings.auto_threshold, filtered.keys
    )
    files = {key: paths.DATASET_SNAPSHOT for key in resolved}
    split, split_settings = _make_split(dataset, resolved, settings.split)
    options = dataset.options
    manifest = SessionManifest(
        id=session_id,
        name=settings.name or Path(dataset.source_name).stem,
        dataset=DatasetSnapshot(
            source_name=dataset.source_name,
            source_sha256=source_sha256,
            n_rows=len(dataset.table),
            options=options,
            warnings=list(dataset.warnings),
        ),
        keys=filtered.keys,
        requested_strategies={k: settings.strategies.get(k, "auto") for k in dataset.keys},
        auto_threshold=settings.auto_threshold,
        filtering=FilterSettings(min_examples=settings.min_examples, dropped=filtered.dropped),
        language=_language_settings(dataset, settings.per_language),
        split=split_settings,
        training=settings.training,
        versions=library_versions(),
        **strategy_fields(resolved, files),
    )
    jobs, notes = derive_plan(manifest)  # raises EmptyPlanError on 0 models
    manifest.plan = jobs
    manifest.notes = notes
    manifest.budget = session_budget(manifest.training, jobs, dataset.table, split)
    return PreparedSession(manifest=manifest, dataset=dataset, split=split, jobs=jobs, notes=notes)


def _make_split(
    dataset: NormalisedDataset, resolved: dict[str, Strategy], settings: SplitSettings
) -> tuple[pd.Series, SplitSettings]:
    """The train/val/test split, stratified on the first multi-class key, and its settings
    with the hash and counts that let a relaunch prove it reuses the same split."""
    stratify = [label_column(k) for k, s in resolved.items() if s is Strategy.MULTI_CLASS][:1]
    split = make_split(
        dataset.table,
        settings.val_ratio,
        settings.test_ratio,
        settings.seed,
        stratify_columns=stratify,
    )
    recorded = settings.model_copy(
        update={
            "sha256": split_hash(dataset.table["row"], split),
            "counts": split_counts(split),
            "file": paths.SPLIT_FILE,
        }
    )
    return split, recorded


def _language_settings(dataset: NormalisedDataset, per_language: bool) -> LanguageSettings:
    """Where the languages came from (a column or detection) and how many rows each has."""
    options = dataset.options
    return LanguageSettings(
        column=options.lang_col,
        detected=bool(options.detect_language and not options.lang_col),
        languages=sorted(dataset.languages),
        counts=dict(dataset.languages),
        per_language=per_language,
    )


def prepare_from_file(
    path: Path, options, settings: SessionSettings, source_name: str | None = None
) -> PreparedSession:
    dataset = load_dataset(Path(path), options, source_name=source_name)
    return prepare(dataset, settings, file_sha256(Path(path)))


def _parquet_bytes(table: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    return buffer.getvalue()


def create_session(store: SessionStore, prepared: PreparedSession) -> SessionManifest:
    """Write a prepared session; it appears in the store whole or not at all."""
    manifest = prepared.manifest.model_copy(deep=True)
    manifest.id, staging = store.reserve(store.base_id(manifest.name))
    try:
        snapshot = staging / paths.DATASET_SNAPSHOT
        atomic_write_bytes(snapshot, _parquet_bytes(prepared.dataset.table))
        manifest.dataset.snapshot_sha256 = file_sha256(snapshot)
        digest = write_split(
            staging / paths.SPLIT_FILE, prepared.dataset.table["row"], prepared.split
        )
        if digest != manifest.split.sha256:  # cannot happen unless the writer is broken
            raise ManifestError("The split changed while it was saved; nothing was created.")
        manifest.status = SessionStatus.READY
        return store.create_from_folder(staging, manifest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
