"""Benchmark scores and the ranking table, computed from job reports already read (no store).

A model's score is its macro-F1, or for a one-vs-all model the F1 of its positive class.
Per-language models are averaged per language first, then across languages with a penalty for
their spread, ``mean * (1 - min(0.2 * CV, 0.2))`` with CV = population std / mean (the previous
tool's formula), so a model that only works for one language does not win. Seeds are summarised
as mean and *sample* standard deviation (n - 1: with 2-5 seeds the population formula
understates the spread; 0 for a single seed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from arena_core.run.benchmark_group import PENDING, Benchmark
from arena_core.session.strategy import ModelJob, Strategy
from arena_core.store.records import JobReport

PENALTY_PER_CV = 0.2
MAX_PENALTY = 0.2
TEST, VALIDATION = "test", "validation"


def job_score(job: ModelJob, metrics: dict[str, Any] | None) -> float | None:
    """A model's score: macro-F1; a one-vs-all model's is the F1 of its positive class (the
    negative class is mostly easy 'rest' and would flatter it)."""
    metrics = metrics or {}
    if job.strategy is Strategy.ONE_VS_ALL and job.label is not None:
        value = ((metrics.get("per_label") or {}).get(job.label) or {}).get("f1")
    else:
        value = metrics.get("macro_f1")
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def penalised_mean(values: Sequence[float]) -> float:
    """Mean across languages lowered by their spread: mean * (1 - min(0.2 * CV, 0.2))."""
    mean = sum(values) / len(values)
    if mean <= 0:
        return 0.0
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return mean * (1 - min(PENALTY_PER_CV * std / mean, MAX_PENALTY))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


@dataclass(frozen=True)
class KeyScore:
    """One member's result for one key."""

    score: float | None  # None: a model of the key has no score (left out, counted as failed)
    seconds: float  # summed training time of the key's models
    per_language: dict[str, float]  # per-language sessions only


Reports = list[tuple[ModelJob, JobReport | None]]


def split_used(test_share: bool, reports: Sequence[Reports]) -> str:
    """'test' when the split has test rows and every finished model has test scores (the same
    split for every member, so scores stay comparable), else 'validation'."""
    complete = all(r is not None and r.test_metrics for rows in reports for _, r in rows)
    return TEST if test_share and complete else VALIDATION


def key_scores(reports: Reports, split: str) -> dict[str, KeyScore]:
    """Per key: the mean of its models' scores (per language first, then penalised across
    languages) and their summed training seconds."""
    scores: dict[str, dict[str | None, list[float | None]]] = {}
    seconds: dict[str, float] = {}
    for job, report in reports:
        metrics = None
        if report is not None and report.completed:
            metrics = report.test_metrics if split == TEST else report.metrics
        scores.setdefault(job.key, {}).setdefault(job.language, []).append(job_score(job, metrics))
        timing = report.timings.total_seconds if report and report.timings else None
        seconds[job.key] = seconds.get(job.key, 0.0) + (timing or 0.0)
    result = {}
    for key, by_language in scores.items():
        if any(s is None for values in by_language.values() for s in values):
            result[key] = KeyScore(None, seconds[key], {})
            continue
        means = {lang: sum(v) / len(v) for lang, v in by_language.items()}
        if set(means) == {None}:
            result[key] = KeyScore(means[None], seconds[key], {})
        else:
            per_language = {str(lang): value for lang, value in sorted(means.items(), key=str)}
            score = penalised_mean(list(per_language.values()))
            result[key] = KeyScore(score, seconds[key], per_language)
    return result


def _model_row(
    model: str, key: str, bench: Benchmark, scores: dict[str, dict[str, KeyScore]], split: str
) -> dict[str, Any]:
    """One model's ranking row for one key: its finished seeds summarised, the others counted."""
    members = [m for m in bench.members if m.model == model]
    got = [scores[m.session_id][key] for m in members if key in scores.get(m.session_id, {})]
    valid = [s for s in got if s.score is not None]
    row: dict[str, Any] = {
        "model": model,
        "score_mean": None,
        "score_std": None,
        "seconds": None,
        "n_seeds": len(valid),
        "n_failed": sum(m.state != PENDING for m in members) - len(valid),
        "n_pending": sum(m.state == PENDING for m in members),
        "per_language": {},
        "split": split,
    }
    if valid:
        row["score_mean"], row["score_std"] = mean_std([s.score for s in valid])
        row["seconds"] = sum(s.seconds for s in valid) / len(valid)
        languages = dict.fromkeys(lang for s in valid for lang in s.per_language)
        row["per_language"] = {
            lang: mean_std([s.per_language[lang] for s in valid if lang in s.per_language])[0]
            for lang in languages
        }
    return row


def _rank(row: dict[str, Any]) -> tuple:
    """Best first: highest mean score, then the faster; models without a score last."""
    scored = row["score_mean"] is not None
    return (not scored, -(row["score_mean"] or 0.0), row["seconds"] or 0.0, row["model"])


def rank(bench: Benchmark, reports: dict[str, Reports]) -> dict[str, list[dict[str, Any]]]:
    """Per key, every candidate model best first (see ``benchmark.ranking``); ``reports``: the
    reports of the finished members, by session id."""
    split = split_used(bench.test_share, list(reports.values()))
    scores = {sid: key_scores(rows, split) for sid, rows in reports.items()}
    return {
        key: sorted((_model_row(m, key, bench, scores, split) for m in bench.models), key=_rank)
        for key in bench.keys
    }
