"""Comparing sessions: what differs in their settings, their best metrics side by side.

``config_diff`` lists only the settings that differ (hyper-parameters, strategies, model, split
and dataset hashes); ``metrics_table`` puts the best validation F1 per key / label / language of
each session in one table with the differences to the first session. No streamlit here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from arena_core.session.describe import job_results
from arena_core.session.manifest import STRATEGY_LISTS, SessionManifest
from arena_core.store.session_store import SessionStore

ALL_LANGUAGES = "all"
KEY_LEVEL, LABEL_LEVEL = "key", "label"


def comparable_settings(manifest: SessionManifest) -> dict[str, Any]:
    """The settings that decide what a session trains and on what, flattened to field -> value."""
    m = manifest
    fields: dict[str, Any] = {
        f"training.{name}": value for name, value in m.training.model_dump(mode="json").items()
    }
    for key in m.keys:
        strategy = (m.key_strategies or {}).get(key)
        fields[f"strategies.{key}"] = str(strategy) if strategy is not None else None
        fields[f"requested_strategies.{key}"] = m.requested_strategies.get(key)
        fields[f"files_per_key.{key}"] = (m.files_per_key or {}).get(key)
    for name in STRATEGY_LISTS.values():
        value = getattr(m, name)
        fields[name] = sorted(value) if value is not None else None
    fields.update(
        {
            "auto_threshold": m.auto_threshold,
            "dataset.source_name": m.dataset.source_name,
            "dataset.source_sha256": m.dataset.source_sha256,
            "dataset.snapshot_sha256": m.dataset.snapshot_sha256,
            "dataset.n_rows": m.dataset.n_rows,
            "filtering.min_examples": m.filtering.min_examples,
            "language.languages": list(m.language.languages),
            "language.per_language": m.language.per_language,
            "split.val_ratio": m.split.val_ratio,
            "split.test_ratio": m.split.test_ratio,
            "split.seed": m.split.seed,
            "split.stratify": m.split.stratify,
            "split.sha256": m.split.sha256,
            "plan.models": len(m.plan),
        }
    )
    return fields


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def config_diff(manifests: Sequence[SessionManifest]) -> list[dict[str, Any]]:
    """Only the fields whose values differ: [{"field": name, "values": {session id: value}}].

    A field one session lacks (a key only it has) counts as None for the others.
    """
    flat = [comparable_settings(m) for m in manifests]
    names: list[str] = []
    for settings in flat:
        names.extend(n for n in settings if n not in names)
    rows = []
    for name in names:
        values = {m.id: settings.get(name) for m, settings in zip(manifests, flat, strict=True)}
        if len({_canonical(v) for v in values.values()}) > 1:
            rows.append({"field": name, "values": values})
    return rows


def label_set_warnings(manifests: Sequence[SessionManifest]) -> list[str]:
    """Why metrics of these sessions may not be comparable: keys or label sets that differ."""
    warnings: list[str] = []
    all_keys: list[str] = []
    for m in manifests:
        all_keys.extend(k for k in m.keys if k not in all_keys)
    for key in all_keys:
        having = [m for m in manifests if key in m.keys]
        if len(having) < len(manifests):
            lacking = ", ".join(m.id for m in manifests if key not in m.keys)
            warnings.append(f"Key '{key}' is not in session(s) {lacking}.")
        label_sets = {m.id: set(m.keys[key].labels) for m in having}
        union = set().union(*label_sets.values())
        gaps = [
            f"{sid} lacks {', '.join(sorted(union - labels))}"
            for sid, labels in label_sets.items()
            if union - labels
        ]
        if gaps:
            warnings.append(f"Key '{key}' has different labels: {'; '.join(gaps)}.")
    return warnings


def _label_scores(row: dict[str, Any]) -> dict[str, float]:
    """Per-label F1 of one job; a one-vs-all model only counts its positive label."""
    metrics = (row.get("report") or {}).get("metrics") or {}
    per_label = metrics.get("per_label") or {}
    scores = {}
    for label, values in per_label.items():
        if row["strategy"] == "one-vs-all" and label != row["label"]:
            continue
        f1 = (values or {}).get("f1")
        if isinstance(f1, int | float) and not isinstance(f1, bool):
            scores[label] = float(f1)
    return scores


def session_scores(store: SessionStore, session_id: str) -> dict[tuple[str, str, str, str], float]:
    """(level, key, label, language) -> best validation F1, for one session.

    Level "key" is the mean per-label F1 over the key's labels (= macro-F1 of a multi-class
    model), so keys trained with different strategies stay comparable.
    """
    manifest = store.load(session_id)
    rows = job_results(store.session_dir(session_id), manifest, with_reports=True)
    scores: dict[tuple[str, str, str, str], float] = {}
    per_key: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        language = row["language"] or ALL_LANGUAGES
        for label, f1 in _label_scores(row).items():
            scores[(LABEL_LEVEL, row["key"], label, language)] = f1
            per_key.setdefault((row["key"], language), []).append(f1)
    for (key, language), values in per_key.items():
        scores[(KEY_LEVEL, key, "", language)] = sum(values) / len(values)
    return scores


def metrics_table(store: SessionStore, ids: Sequence[str]) -> pd.DataFrame:
    """Best F1 per key / label / language, one column per session, plus "Δ <id>" columns.

    Each delta is that session's value minus the first session's (missing -> NaN).
    """
    ids = list(dict.fromkeys(ids))
    index_cols = ["level", "key", "label", "language"]
    per_session = {sid: session_scores(store, sid) for sid in ids}
    keys = sorted({k for scores in per_session.values() for k in scores})
    frame = pd.DataFrame(keys, columns=index_cols) if keys else pd.DataFrame(columns=index_cols)
    for sid, scores in per_session.items():
        frame[sid] = [scores.get(k) for k in keys]
        frame[sid] = frame[sid].astype("float64")
    if ids:
        first = ids[0]
        for sid in ids[1:]:
            frame[f"Δ {sid}"] = frame[sid] - frame[first]
    return frame.reset_index(drop=True)
