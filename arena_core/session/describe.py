"""What a saved session says, in readable sections, and the results of its jobs.

Pages show a manifest as named sections (dataset, keys, strategies, ...) instead of raw JSON,
and the per-job results from the ``report.json`` files. No streamlit here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from arena_core.errors import ArenaError
from arena_core.session.manifest import STRATEGY_FIELDS, SessionManifest
from arena_core.session.plan import plan
from arena_core.session.strategy import ModelJob
from arena_core.store.records import read_progress
from arena_core.store.status import effective_status, job_identity, job_rows

log = logging.getLogger(__name__)

MISSING = "missing"  # how an absent strategy field reads in the sections


def _or_missing(value: Any) -> Any:
    return MISSING if value is None else value


def _plain(value: Any) -> Any:
    """Enums and pydantic values as plain JSON types (str/list/dict)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value


def readable_sections(manifest: SessionManifest) -> dict[str, Any]:
    """Named sections of a manifest: a dict (field -> value) or a list of rows (a table)."""
    m = manifest
    sections: dict[str, Any] = {
        "Dataset": _dataset_section(m),
        "Keys & label sets": _key_rows(m),
        "Strategies": {
            "approach": m.approach,
            **{name: _plain(_or_missing(getattr(m, name))) for name in STRATEGY_FIELDS},
            "multilabel_keys": _plain(_or_missing(m.multilabel_keys)),
            "auto threshold": m.auto_threshold,
        },
        "Filtering": {
            "min examples per label": m.filtering.min_examples,
            "dropped labels": [d.model_dump(exclude={"rows"}) for d in m.filtering.dropped],
        },
        "Languages": {
            "taken from": _language_source(m),
            "languages": ", ".join(m.language.languages) or None,
            "rows per language": dict(m.language.counts),
            "one model per language": m.language.per_language,
        },
        "Split": {
            "validation ratio": m.split.val_ratio,
            "test ratio": m.split.test_ratio,
            "seed": m.split.seed,
            "stratified": m.split.stratify,
            "rows per split": dict(m.split.counts),
            "split sha256": m.split.sha256,
        },
        "Training": m.training.model_dump(mode="json"),
        "Plan": _plan_rows(m),
        "Versions": [{"library": k, "version": v} for k, v in m.versions.items()],
    }
    if m.notes:
        sections["Notes"] = list(m.notes)
    if m.legacy:
        sections["Legacy metadata"] = dict(m.legacy)
    return sections


def _language_source(m: SessionManifest) -> str:
    """Where the texts' languages came from, in words."""
    if m.language.column:
        return f"column '{m.language.column}'"
    if m.language.detected:
        return "detected from the texts"
    return "none (no language column, no detection)"


def _dataset_section(m: SessionManifest) -> dict[str, Any]:
    """The source file, how it was read, and the hashes that identify it and its snapshot."""
    options = m.dataset.options
    return {
        "source file": m.dataset.source_name,
        "rows": m.dataset.n_rows,
        "layout": options.layout,
        "text column": options.text_col,
        "annotation column": options.annotation_col,
        "label columns": ", ".join(options.label_cols) or None,
        "language column": options.lang_col,
        "id column": options.id_col,
        "source sha256": m.dataset.source_sha256,
        "snapshot sha256": m.dataset.snapshot_sha256,
        "warnings": list(m.dataset.warnings),
    }


def _key_rows(m: SessionManifest) -> list[dict[str, Any]]:
    """One row per key: its strategy (``missing`` when not saved), request and label set."""
    strategies = m.key_strategies or {}
    return [
        {
            "key": key,
            "strategy": _plain(strategies.get(key)) or MISSING,
            "requested": m.requested_strategies.get(key, ""),
            "labels": ", ".join(info.labels),
            "n labels": len(info.labels),
            "multi-valued": info.multi_valued,
            "rows without a value": info.empty_rows,
        }
        for key, info in m.keys.items()
    ]


def _plan_rows(m: SessionManifest) -> list[dict[str, Any]]:
    """One row per planned model: what it trains and how many outputs it has."""
    return [
        {
            "key": job.key,
            "strategy": job.strategy.value,
            "value (one-vs-all)": job.label or "all values",
            **({"language": job.language or "all"} if m.language.per_language else {}),
            "outputs": len(job.labels),
        }
        for job in m.plan
    ]


def session_jobs(manifest: SessionManifest) -> list[ModelJob]:
    """The saved plan, or the plan derived from the strategy fields when none was saved."""
    if manifest.plan:
        return list(manifest.plan)
    try:
        return plan(manifest)
    except ArenaError:
        return []


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def job_results(
    session_dir: Path, manifest: SessionManifest, with_reports: bool = False
) -> list[dict[str, Any]]:
    """One row per planned model: recorded status and best validation metrics (report.json).

    With ``with_reports`` each row also carries the full report (as written) under ``"report"``.
    """
    progress = read_progress(session_dir)
    session = effective_status(manifest.status, progress)
    rows = []
    for state in job_rows(session_dir, session_jobs(manifest), progress, session):
        report = state.report
        metrics = (report.metrics if report else None) or {}
        test = (report.test_metrics if report else None) or {}
        row: dict[str, Any] = {
            "model": state.job.id,
            **job_identity(state.job),
            "status": state.recorded.value,
            "macro_f1": _number(metrics.get("macro_f1")),
            "accuracy": _number(metrics.get("accuracy")),
            "val_loss": _number(metrics.get("loss")),
            "best_epoch": report.best_epoch if report else None,
            "test_macro_f1": _number(test.get("macro_f1")),
            "baseline_macro_f1": state.baseline_macro_f1,
            "error": state.entry.error,
            "node": state.entry.node,
            "ran_in": ran_in(report.precision, report.device) if report else None,
        }
        if with_reports:
            row["report"] = report.model_dump(exclude_unset=True) if report else None
        rows.append(row)
    return rows


def ran_in(precision: dict[str, str] | None, device: str | None) -> str | None:
    """What a job computed in, from its report: 'bf16 on cpu', 'train fp32, evaluate bf16 on
    cpu'; None for reports written before precision and device were recorded."""
    if not precision:
        return None
    formats = set(precision.values())
    text = (
        formats.pop()
        if len(formats) == 1
        else ", ".join(f"{stage} {value}" for stage, value in precision.items())
    )
    return f"{text} on {device}" if device else text


def baseline_gain(macro_f1: float | None, baseline: float | None) -> str:
    """'+0.08 over TF-IDF' style text, '' when either score is missing."""
    if macro_f1 is None or baseline is None:
        return ""
    return f"{macro_f1 - baseline:+.2f}"


def baseline_verdict(scores: list[tuple[float | None, float | None]]) -> str | None:
    """A warning when fine-tuning did not beat the tf-idf baseline on some models.

    ``scores`` holds (model macro-F1, baseline macro-F1) per finished model. Nothing tells a user
    otherwise that a 2-second baseline would have done as well as minutes of fine-tuning.
    """
    pairs = [(m, b) for m, b in scores if m is not None and b is not None]
    behind = [(m, b) for m, b in pairs if m < b]
    if not behind:
        return None
    worst = max(b - m for m, b in behind)
    return (
        f"The TF-IDF baseline scored higher than the fine-tuned model on {len(behind)} of "
        f"{len(pairs)} models (by up to {worst:.2f} macro-F1). Fine-tuning did not pay there: "
        "try more data, more epochs, or compare candidates with a benchmark (Benchmark page)."
    )
