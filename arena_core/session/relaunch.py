"""Relaunch: a child session on its parent's snapshot and split, with settings changed.

A relaunch is "clone and edit": the child keeps the parent's rows and split (so the two compare
fairly) and may change any training setting, the model, a key's strategy or the per-language
setting. Its plan is derived from its own manifest alone, like any session's, so a child can
never plan 0 models because a field was lost on the way. The parent is never touched.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from arena_core.data.dataset import from_snapshot
from arena_core.data.filtering import apply_min_examples
from arena_core.data.splits import read_split
from arena_core.errors import ArenaError, ManifestError
from arena_core.session.check import check, is_complete
from arena_core.session.create import library_versions, resolve_strategies
from arena_core.session.manifest import (
    JobBudget,
    SessionManifest,
    SessionStatus,
    TrainingConfig,
    now_iso,
    strategy_fields,
    validation_message,
)
from arena_core.session.plan import plan_with_notes as derive_plan
from arena_core.store.atomic import storage_error
from arena_core.store.session_store import SessionStore
from arena_core.training.budget import rebudget, session_budget
from arena_core.training.precision import require_supported

log = logging.getLogger(__name__)

RELAUNCH_SUFFIX = re.compile(r"\s*·\s*relaunch (\d+)$")


@dataclass
class RelaunchChanges:
    """What a relaunch changes besides training settings; None keeps the parent's choice."""

    strategies: dict[str, str] = field(default_factory=dict)  # key -> strategy (or 'auto')
    per_language: bool | None = None

    def any(self, parent: SessionManifest) -> bool:
        same_strategies = all(
            (parent.key_strategies or {}).get(k) == v or parent.requested_strategies.get(k) == v
            for k, v in self.strategies.items()
        )
        same_language = self.per_language in (None, parent.language.per_language)
        return not (same_strategies and same_language)


def family_name(name: str) -> str:
    """'reviews · relaunch 2' -> 'reviews': the name a family of relaunches shares."""
    return RELAUNCH_SUFFIX.sub("", name)


def relaunch_name(store: SessionStore, parent_name: str) -> str:
    """'<name> · relaunch N', N one more than the family's highest, so a child never reads
    like its parent in a picker, a chart legend or a table."""
    base = family_name(parent_name)
    numbers = [0]
    for session_id in store.ids_named_like(base):
        try:
            name = store.load(session_id).name
        except ArenaError:
            continue  # an unreadable sibling does not block the relaunch
        found = RELAUNCH_SUFFIX.search(name)
        if found and family_name(name) == base:
            numbers.append(int(found.group(1)))
    return f"{base} · relaunch {max(numbers) + 1}"


def _loaded_parent(store: SessionStore, parent_id: str) -> tuple[SessionManifest, Path]:
    """The parent and its folder; refuses an incomplete parent with what to repair."""
    parent_dir = store.existing_dir(parent_id)
    parent = store.load(parent_id)
    problems = check(parent, parent_dir)
    if not is_complete(problems):
        listed = "; ".join(p.message for p in problems if p.severity == "error")
        raise ManifestError(
            f"Session {parent_id} cannot be relaunched: {listed} Run 'python -m arena_core "
            f"repair {parent_id}' (or Repair on the Sessions page) first."
        )
    return parent, parent_dir


def _training(parent: SessionManifest, overrides: dict[str, Any] | None) -> TrainingConfig:
    training = parent.training.model_copy()
    for name, value in (overrides or {}).items():
        if name not in TrainingConfig.model_fields:
            allowed = ", ".join(TrainingConfig.model_fields)
            raise ArenaError(f"Unknown setting '{name}': you can override {allowed}.")
        try:
            setattr(training, name, value)
        except ValidationError as exc:
            raise ArenaError(f"Invalid value {value!r}: {validation_message(exc)}.") from None
    return training


def _read_data(parent: SessionManifest, parent_dir: Path) -> tuple[pd.DataFrame, pd.Series]:
    try:
        table = pd.read_parquet(parent_dir / parent.dataset.snapshot_file)
        split, _ = read_split(parent_dir / parent.split.file)
    except (OSError, ValueError) as exc:
        raise ArenaError(
            f"Session {parent.id}: its saved data cannot be read ({exc}); it cannot be "
            "relaunched with other strategies."
        ) from None
    return table, split


def _restrategise(child: SessionManifest, changes: RelaunchChanges, table: pd.DataFrame) -> None:
    """Re-resolve strategies and label sets from the snapshot, as a new session would."""
    per_language = (
        child.language.per_language if changes.per_language is None else changes.per_language
    )
    dataset = from_snapshot(
        table, list(child.keys), child.dataset.options, child.dataset.source_name
    )
    if per_language and not dataset.languages:
        raise ArenaError(
            "One model set per language needs a language for each text, and this session's "
            "data has none: keep per-language models off."
        )
    requested = {**child.requested_strategies, **changes.strategies}
    filtered = apply_min_examples(dataset, child.filtering.min_examples, per_language)
    resolved = resolve_strategies(dataset, requested, child.auto_threshold, filtered.keys)
    files = dict(child.files_per_key or {})
    files = {key: files.get(key, child.dataset.snapshot_file) for key in resolved}
    child.keys = filtered.keys
    child.filtering.dropped = filtered.dropped
    child.requested_strategies = requested
    child.language.per_language = per_language
    for name, value in strategy_fields(resolved, files).items():
        setattr(child, name, value)


def preview_relaunch(
    store: SessionStore,
    parent_id: str,
    overrides: dict[str, Any] | None = None,
    changes: RelaunchChanges | None = None,
) -> SessionManifest:
    """The child's manifest (plan, notes, budget) in memory: what a relaunch would train.

    Raises ArenaError with one message when the parent is incomplete or a change is impossible
    (an unknown setting, multi-class on a multi-valued key, per-language without languages).
    """
    parent, parent_dir = _loaded_parent(store, parent_id)
    changes = changes or RelaunchChanges()
    child = parent.model_copy(deep=True)
    child.name = relaunch_name(store, parent.name)
    child.parent = parent.id
    child.origin = "native"
    child.status = SessionStatus.READY
    child.status_reason = None
    child.benchmark = None
    child.training = _training(parent, overrides)
    require_supported(child.training.precision)  # e.g. a GPU session's fp16 on a CPU machine
    child.created_at = child.updated_at = now_iso()
    child.versions = library_versions()
    restrategised = changes.any(parent)
    if restrategised:
        table, split = _read_data(parent, parent_dir)
        _restrategise(child, changes, table)
    child.plan, child.notes = derive_plan(child)  # raises EmptyPlanError on 0 models
    if not restrategised and len(child.plan) != len(parent.plan):
        raise ManifestError(
            f"Relaunch of {parent_id} would plan {len(child.plan)} models, the parent planned "
            f"{len(parent.plan)}; nothing was created. Run 'check {parent_id}'."
        )
    if restrategised:
        child.budget = session_budget(child.training, child.plan, table, split)
    else:
        child.budget = _relaunch_budget(child, parent, parent_dir)
    return child


def create_relaunch(
    store: SessionStore,
    parent_id: str,
    overrides: dict[str, Any] | None = None,
    changes: RelaunchChanges | None = None,
) -> SessionManifest:
    """Write the child that ``preview_relaunch`` shows; the parent is untouched.

    Refuses (ArenaError naming the problems) when the parent's manifest is incomplete, so a
    relaunch can never plan 0 models, nor fewer than its parent unless strategies changed.
    """
    child = preview_relaunch(store, parent_id, overrides, changes)
    parent_dir = store.existing_dir(parent_id)
    child.id, staging = store.reserve(store.base_id(family_name(child.name)))
    try:
        for rel in {
            child.dataset.snapshot_file,
            child.split.file,
            *(child.files_per_key or {}).values(),
        }:
            _link_or_copy(parent_dir / rel, staging / rel)
        return store.create_from_folder(staging, child)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _relaunch_budget(
    child: SessionManifest, parent: SessionManifest, parent_dir: Path
) -> dict[str, JobBudget]:
    """The child's job lengths: from the parent's recorded rows per job when it has them all,
    else (a baseline or older parent) counted again on the shared snapshot and split."""
    if set(parent.budget) >= {job.id for job in child.plan}:
        return rebudget(child.training, parent.budget)
    try:
        table, split = _read_data(parent, parent_dir)
    except ArenaError as exc:
        log.warning("relaunch of %s: no budget recorded (%s)", parent.id, exc)
        return {}
    return session_budget(child.training, child.plan, table, split)


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link the parent's immutable data files (no copy cost); copy across disks."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        return
    try:
        os.link(src, dst)
    except OSError:
        try:
            shutil.copy2(src, dst)
        except OSError as exc:
            raise storage_error(dst, exc) from exc
