"""The plan: the models a session trains, derived from its manifest alone.

The plan is a pure function of the manifest: nothing else (no UI state, no separate plan file)
decides what gets trained. That is what makes save -> load -> plan reproduce the plan exactly,
and why a relaunch cannot plan 0 models when its parent planned some.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from arena_core.errors import EmptyPlanError, ManifestError
from arena_core.session.strategy import ModelJob, Strategy, negative_label

if TYPE_CHECKING:
    from arena_core.session.manifest import SessionManifest

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def _slug(text: str) -> str:
    """A path-safe fragment; a short hash keeps distinct inputs distinct after cleaning."""
    cleaned = _UNSAFE.sub("-", text).strip("-")[:40] or "x"
    if cleaned != text:
        cleaned += "-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:6]
    return cleaned


def job_id(key: str, strategy: Strategy, label: str | None, language: str | None) -> str:
    parts = [_slug(key), strategy.value]
    if label is not None:
        parts.append(_slug(label))
    if language is not None:
        parts.append(_slug(language))
    return "__".join(parts)


def _jobs_for(key: str, strategy: Strategy, labels: list[str], language: str | None):
    if strategy is Strategy.ONE_VS_ALL:
        for label in labels:
            yield ModelJob(
                id=job_id(key, strategy, label, language),
                key=key,
                strategy=strategy,
                label=label,
                language=language,
                labels=[negative_label(label), label],
            )
    else:
        yield ModelJob(
            id=job_id(key, strategy, None, language),
            key=key,
            strategy=strategy,
            language=language,
            labels=list(labels),
        )


def plan_with_notes(manifest: SessionManifest) -> tuple[list[ModelJob], list[str]]:
    """Jobs derived from the manifest alone, plus notes on combinations that cannot train.

    Raises ManifestError when strategy fields are missing (see ``check``) and EmptyPlanError
    when nothing at all can be trained, so a 0-model session is never written or launched.
    """
    if manifest.key_strategies is None:
        raise ManifestError(
            f"Session {manifest.id}: the strategy field 'key_strategies' is missing, so no model "
            "can be planned. Run 'python -m arena_core repair "
            f"{manifest.id}' (or the Repair button on the Sessions page)."
        )
    jobs: list[ModelJob] = []
    notes: list[str] = []
    languages = manifest.language.languages if manifest.language.per_language else [None]
    for key, info in manifest.keys.items():
        strategy = manifest.key_strategies.get(key)
        if strategy is None:
            notes.append(f"Key '{key}' has no strategy: it is not trained.")
            continue
        if strategy is Strategy.AUTO:
            raise ManifestError(
                f"Session {manifest.id}: key '{key}' still has strategy 'auto'; strategies are "
                "resolved when a session is created. Run repair to resolve it."
            )
        for language in languages:
            labels = info.labels if language is None else info.labels_by_language.get(language, [])
            where = f"key '{key}'" + (f" in language {language}" if language else "")
            if strategy is Strategy.ONE_VS_ALL and not labels:
                notes.append(f"{where}: no label with enough examples, no model.")
                continue
            if strategy is not Strategy.ONE_VS_ALL and len(labels) < 2:
                notes.append(
                    f"{where}: {strategy.value} needs at least 2 labels with enough examples "
                    f"(has {len(labels)}), no model."
                )
                continue
            jobs.extend(_jobs_for(key, strategy, labels, language))
    if not jobs:
        why = " ".join(notes) or "the session has no annotation keys."
        raise EmptyPlanError(
            f"This session would train 0 models: {why} Choose other strategies, lower "
            "'min examples', or turn off per-language models."
        )
    return jobs, notes


def plan(manifest: SessionManifest) -> list[ModelJob]:
    """The list of models a session trains, derived from its manifest alone."""
    return plan_with_notes(manifest)[0]
