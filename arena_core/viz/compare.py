"""Comparing sessions: what differs in their settings, their best metrics side by side.

``config_diff`` lists only the settings that differ (hyper-parameters, strategies, model, split
and dataset hashes) and ``diff_table`` shows them with readable labels and values;
``metrics_table`` puts each session's best validation scores in one table with the differences
to the first session: per model, the macro-F1 of its report (the number Monitor and Sessions
show), or per label, the F1 of that label. ``session_titles`` names sessions by their name (and
creation time where names repeat), never by id. No streamlit here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import pandas as pd

from arena_core.session.describe import job_results, session_jobs
from arena_core.session.manifest import STRATEGY_LISTS, SessionManifest
from arena_core.session.strategy import ModelJob
from arena_core.store.session_store import SessionStore
from arena_core.viz.wording import FIELD_LABELS, field_label, job_name, value_text, when_text

MODEL_LEVEL, LABEL_LEVEL = "model", "label"
LEVELS = (MODEL_LEVEL, LABEL_LEVEL)
LEVEL_TITLES = {
    MODEL_LEVEL: "Best validation macro-F1",
    LABEL_LEVEL: "Best validation F1 per label",
}
# Settings of one key each: "strategies.themes" reads "Strategy: themes".
PER_KEY_GROUPS = ("strategies", "requested_strategies", "files_per_key")
SETTING = "Setting"
KEY, MODEL, LABEL, STRATEGY, LANGUAGE, METRIC = (
    "Key",
    "Model",
    "Label",
    "Strategy",
    "Language",
    "Metric",
)


# ---------------------------------------------------------------- names


class _Named(Protocol):
    id: str
    name: str
    created_at: str


def _numbered(titles: dict[str, str]) -> dict[str, str]:
    """Titles still shared by several sessions get "#1", "#2"... in the given order."""
    totals = Counter(titles.values())
    seen: Counter[str] = Counter()
    numbered = {}
    for sid, title in titles.items():
        if totals[title] > 1:
            seen[title] += 1
            title = f"{title} #{seen[title]}"
        numbered[sid] = title
    return numbered


def session_titles(sessions: Iterable[_Named]) -> dict[str, str]:
    """id -> how a session reads everywhere on the Compare page: "name · 2025-01-02 10:11".

    Names repeat (a relaunch child may keep its parent's name), so the creation time is part
    of the title, to the second where minutes repeat too, then a running number as a last
    resort. Ids are never shown where a name exists.
    """
    sessions = list(sessions)

    def title(s: _Named, when: str) -> str:
        return f"{s.name or s.id} · {when}" if when else (s.name or s.id)

    titles = {s.id: title(s, when_text(s.created_at)) for s in sessions}
    counts = Counter(titles.values())
    for s in sessions:
        if counts[titles[s.id]] > 1:
            titles[s.id] = title(s, when_text(s.created_at, seconds=True))
    return _numbered(titles)


def model_name(job: ModelJob) -> str:
    """A model as every page names it (``wording.job_name``): "sentiment", "themes: economy",
    "themes: economy (FR)"."""
    return job_name(job.key, job.label, job.language)


def model_names(manifests: Iterable[SessionManifest]) -> dict[str, str]:
    """job id -> ``model_name`` for every planned model of these sessions."""
    return {job.id: model_name(job) for m in manifests for job in session_jobs(m)}


# ---------------------------------------------------------------- settings


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


def setting_label(field: str) -> str:
    """'training.learning_rate' -> 'Learning rate', 'strategies.themes' -> 'Strategy: themes'."""
    if field in FIELD_LABELS:
        return FIELD_LABELS[field]
    group, _, name = field.partition(".")
    if not name:
        return field_label(field)
    if group in PER_KEY_GROUPS:
        return f"{field_label(group)}: {name}"
    return field_label(name)


def setting_text(field: str, value: Any) -> str:
    """A setting's value as text ('automatic' for epochs None, lists joined, yes/no)."""
    group, _, name = field.partition(".")
    if isinstance(value, list | dict | set):  # value_text's special values are scalars only
        return value_text(value)
    return value_text(value, name if name and group not in PER_KEY_GROUPS else group)


def diff_table(
    manifests: Sequence[SessionManifest], titles: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The differing settings: a "Setting" column, then one column of text per session."""
    titles = titles or session_titles(manifests)
    rows = [
        {
            SETTING: setting_label(d["field"]),
            **{titles[sid]: setting_text(d["field"], v) for sid, v in d["values"].items()},
        }
        for d in config_diff(manifests)
    ]
    return pd.DataFrame(rows, columns=[SETTING, *(titles[m.id] for m in manifests)])


def label_set_warnings(
    manifests: Sequence[SessionManifest], titles: Mapping[str, str] | None = None
) -> list[str]:
    """Why metrics of these sessions may not be comparable: keys or label sets that differ."""
    titles = titles or session_titles(manifests)
    warnings: list[str] = []
    all_keys: list[str] = []
    for m in manifests:
        all_keys.extend(k for k in m.keys if k not in all_keys)
    for key in all_keys:
        having = [m for m in manifests if key in m.keys]
        if len(having) < len(manifests):
            lacking = ", ".join(titles[m.id] for m in manifests if key not in m.keys)
            warnings.append(f"Key '{key}' is not in session(s) {lacking}.")
        label_sets = {m.id: set(m.keys[key].labels) for m in having}
        union = set().union(*label_sets.values())
        gaps = [
            f"{titles[sid]} lacks {', '.join(sorted(union - labels))}"
            for sid, labels in label_sets.items()
            if union - labels
        ]
        if gaps:
            warnings.append(f"Key '{key}' has different labels: {'; '.join(gaps)}.")
    return warnings


# ---------------------------------------------------------------- metrics


def label_metric(label: str, strategy: str) -> str:
    """What a per-label score is: the positive class of a one-vs-all model says so."""
    if strategy == "one-vs-all":
        return f"F1 of label '{label}' (positive class)"
    return f"F1 of label '{label}'"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


Row = tuple[str, str, str, str]  # (key, model or label, strategy, language)


def session_scores(
    store: SessionStore, session_id: str, level: str = MODEL_LEVEL
) -> dict[Row, float]:
    """(key, model or label, strategy, language) -> best validation score, for one session.

    Level "model": the macro-F1 of each model's report (for a one-vs-all model, the mean over
    its two classes), the very number Monitor and Sessions show. Level "label": the F1 of each
    label; a one-vs-all model gives the F1 of its positive class only.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}")
    manifest = store.load(session_id)
    rows = job_results(store.session_dir(session_id), manifest, with_reports=level == LABEL_LEVEL)
    scores: dict[Row, float] = {}
    for row in rows:
        strategy, language = str(row["strategy"]), row["language"] or ""
        if level == MODEL_LEVEL:
            if row["macro_f1"] is not None:
                name = job_name(row["key"], row["label"], row["language"])
                scores[(row["key"], name, strategy, language)] = row["macro_f1"]
            continue
        per_label = (((row.get("report") or {}).get("metrics") or {}).get("per_label")) or {}
        for label, values in per_label.items():
            if strategy == "one-vs-all" and label != row["label"]:
                continue  # the negative class ("not_x") is no label of the key
            f1 = _number((values or {}).get("f1"))
            if f1 is not None:
                scores[(row["key"], label, strategy, language)] = f1
    return scores


def metrics_table(
    store: SessionStore,
    ids: Sequence[str],
    level: str = MODEL_LEVEL,
    titles: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Best scores of ``level`` side by side: describing columns, one column per session
    (named by ``titles``, default ``session_titles``), then "Δ <title>" columns.

    Model level: Key, Model (as every page names it, language included), Strategy, then the
    macro-F1 of each session. Label level: Key, Label, Strategy, Metric (what the number is),
    [Language, when a session trains one model set per language], then the F1 of each
    session. Each delta is that session's value minus the first session's (missing -> NaN).
    Rows keep plan order.
    """
    ids = list(dict.fromkeys(ids))
    if titles is None:
        titles = session_titles(store.load(sid) for sid in ids)
    per_session = {sid: session_scores(store, sid, level) for sid in ids}
    rows = list(dict.fromkeys(r for scores in per_session.values() for r in scores))
    name_col = MODEL if level == MODEL_LEVEL else LABEL
    frame = pd.DataFrame(
        {
            KEY: [r[0] for r in rows],
            name_col: [r[1] for r in rows],
            STRATEGY: [r[2] for r in rows],
        }
    )
    if level == LABEL_LEVEL:
        frame[METRIC] = [label_metric(r[1], r[2]) for r in rows]
    if level == LABEL_LEVEL and any(r[3] for r in rows):  # a model's name says its language
        frame[LANGUAGE] = [r[3] or value_text(None) for r in rows]
    for sid, scores in per_session.items():
        frame[titles[sid]] = pd.Series([scores.get(r) for r in rows], dtype="float64")
    if ids:
        first = titles[ids[0]]
        for sid in ids[1:]:
            frame[f"Δ {titles[sid]}"] = frame[titles[sid]] - frame[first]
    return frame.reset_index(drop=True)


def nodes_table(store: SessionStore, ids: Sequence[str], titles: Mapping[str, str]) -> pd.DataFrame:
    """Which Ray node trained each model: Model, then one column per session; empty when none
    of the sessions trained on Ray (the local executor records no node)."""
    per_session = {}
    for sid in dict.fromkeys(ids):
        rows = job_results(store.session_dir(sid), store.load(sid))
        per_session[titles[sid]] = {
            job_name(r["key"], r["label"], r["language"]): r["node"] for r in rows if r["node"]
        }
    models = list(dict.fromkeys(m for nodes in per_session.values() for m in nodes))
    if not models:
        return pd.DataFrame()
    frame = pd.DataFrame({MODEL: models})
    for title, nodes in per_session.items():
        frame[title] = [nodes.get(m) for m in models]
    return frame


def score_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric columns of a ``metrics_table`` (sessions and deltas)."""
    return [c for c in frame.columns if c not in (KEY, MODEL, LABEL, STRATEGY, METRIC, LANGUAGE)]
