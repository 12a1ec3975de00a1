"""The trained models of a session applied to texts -> readable tables and one export table.

Per key, whatever its strategy, one prediction column named after the key:

- multi-class: the most probable label (argmax; no threshold);
- multi-label: the labels whose probability reaches their threshold (tuned on validation and
  saved with the model, else 0.5), joined by "; ";
- one-vs-all: the labels whose binary model gives the positive class a probability reaching
  its threshold (0.5 unless the model saved a tuned one), joined the same way.

A text for which no label reaches its threshold reads ``NO_LABEL``, never a blank cell. Beside
the predictions: the probability of every label (``"<key>: P(<label>)"``) and the rule or
threshold that decided (``"<key>: threshold(<label>)"``, ``"<key>: decision"``), on screen in a
second table and in the export. Loading the models is left to the caller (the Predict page
keeps them in a cache across reruns), so this module needs neither torch nor streamlit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from arena_core.session.strategy import ModelJob, Strategy
from arena_core.store import paths
from arena_core.training.predict import BASELINE_JSON, CONFIG, DEFAULT_THRESHOLD

TEXT = "text"
NO_LABEL = "(none)"  # no label reached its threshold: a prediction, not a missing value
LABEL_SEPARATOR = "; "
ARGMAX = "most probable label (argmax)"
TUNED, DEFAULT = "tuned on validation, saved with the model", "default"


class LoadedModel(Protocol):
    """What a prediction needs of a loaded model (``training.predict.Predictor``)."""

    thresholds: dict[str, float]

    def predict(self, texts: list[str], **options: Any) -> list[dict[str, Any]]: ...


# The loaded model of one job (the Predict page's cache, or a test's fake).
ModelFor = Callable[[ModelJob], LoadedModel]


def job_model_dir(session_dir: Path, job: ModelJob) -> Path:
    """The model/ folder the training of ``job`` writes."""
    return paths.job_dir(session_dir, job.id) / paths.JOB_MODEL


def jobs_with_a_model(session_dir: Path, jobs: list[ModelJob]) -> list[ModelJob]:
    """The jobs whose model folder holds a trained model, in plan order."""
    return [
        job
        for job in jobs
        if any(
            (job_model_dir(session_dir, job) / name).is_file() for name in (CONFIG, BASELINE_JSON)
        )
    ]


def probability_column(key: str, label: str) -> str:
    return f"{key}: P({label})"


def threshold_column(key: str, label: str) -> str:
    return f"{key}: threshold({label})"


def decision_column(key: str) -> str:
    return f"{key}: decision"


@dataclass
class Predictions:
    """Predictions of a session's models for some texts, as the Predict page shows them.

    ``labels``: text + one column per key (its predicted label or labels). ``probabilities``:
    text + one ``"<key>: P(<label>)"`` column per label. ``decisions``: one row per key
    (multi-class) or per label (multi-label, one-vs-all): how it was decided, the threshold.
    ``rules``: per key, the export columns that hold its thresholds or decision rule.
    """

    labels: pd.DataFrame
    probabilities: pd.DataFrame
    decisions: pd.DataFrame
    rules: dict[str, dict[str, Any]]

    def export(self) -> pd.DataFrame:
        """Everything per text, for the downloads: the predictions first, then per key the
        probability of each label and the threshold (or rule) that decided."""
        columns: dict[str, Any] = {column: self.labels[column] for column in self.labels}
        for key in self.labels.columns.drop(TEXT):
            prefix = f"{key}: P("
            for column in self.probabilities.columns:
                if column.startswith(prefix) and column.endswith(")"):
                    columns[column] = self.probabilities[column]
            for column, value in self.rules.get(key, {}).items():
                columns[column] = [value] * len(self.labels)
        return pd.DataFrame(columns)


@dataclass
class _KeyResult:
    """What the models of one key gave, gathered job by job (one-vs-all: a job per label)."""

    per_text: list[list[str]]
    probabilities: dict[str, list[float]]
    rules: dict[str, Any]


def _joined(labels: list[str]) -> str:
    return LABEL_SEPARATOR.join(labels) if labels else NO_LABEL


def _decision(job: ModelJob, label: str | None, threshold: float | None, tuned: bool) -> dict:
    if threshold is None:
        rule, shown, source = ARGMAX, "none (argmax)", "—"
    elif job.strategy is Strategy.ONE_VS_ALL:
        rule = f"yes when its binary model gives P({label}) ≥ threshold"
        shown, source = f"{threshold:g}", TUNED if tuned else DEFAULT
    else:
        rule = f"yes when P({label}) ≥ threshold"
        shown, source = f"{threshold:g}", TUNED if tuned else DEFAULT
    return {
        "Key": job.key,
        "Label": label or "all labels",
        "Strategy": job.strategy.value,
        "Decision": rule,
        "Threshold": shown,
        "Threshold from": source,
    }


def predict_session(
    jobs: list[ModelJob], texts: list[str], model_for: ModelFor, **options: Any
) -> Predictions:
    """Apply the model of every job to ``texts`` (see the module docstring for the rules).

    ``options`` go to each model's ``predict`` (``max_length``: the session's training length,
    so a long text is cut where the model saw texts cut during training and validation).
    """
    texts = ["" if t is None else str(t) for t in texts]
    keys: dict[str, _KeyResult] = {}
    decisions: list[dict[str, Any]] = []
    for job in jobs:
        model = model_for(job)
        results = model.predict(texts, **options)
        saved = dict(model.thresholds or {})
        gathered = keys.setdefault(job.key, _KeyResult([[] for _ in texts], {}, {}))
        if job.strategy is Strategy.ONE_VS_ALL:  # one binary model per label: its positive class
            label = str(job.label)
            threshold = float(saved.get(label, DEFAULT_THRESHOLD))
            positive = [float(r["scores"][label]) for r in results]
            for found, p in zip(gathered.per_text, positive, strict=True):
                if p >= threshold:
                    found.append(label)
            gathered.probabilities[probability_column(job.key, label)] = positive
            gathered.rules[threshold_column(job.key, label)] = threshold
            decisions.append(_decision(job, label, threshold, label in saved))
            continue
        names = [str(n) for n in results[0]["scores"]] if results else list(job.labels)
        for name in names:
            gathered.probabilities[probability_column(job.key, name)] = [
                float(r["scores"][name]) for r in results
            ]
        if job.strategy is Strategy.MULTI_LABEL:  # the model applied its thresholds
            for found, result in zip(gathered.per_text, results, strict=True):
                found.extend(str(label) for label in result["labels"])
            for name in names:
                threshold = float(saved.get(name, DEFAULT_THRESHOLD))
                gathered.rules[threshold_column(job.key, name)] = threshold
                decisions.append(_decision(job, name, threshold, name in saved))
        else:  # multi-class: the most probable label, whatever its probability
            for found, result in zip(gathered.per_text, results, strict=True):
                found.append(str(result["label"]))
            gathered.rules[decision_column(job.key)] = ARGMAX
            decisions.append(_decision(job, None, None, False))
    labels = pd.DataFrame({TEXT: texts})
    probabilities = pd.DataFrame({TEXT: texts})
    for key, gathered in keys.items():
        labels[key] = [_joined(found) for found in gathered.per_text]
        for column, values in gathered.probabilities.items():
            probabilities[column] = values
    rules = {key: gathered.rules for key, gathered in keys.items()}
    return Predictions(labels, probabilities, pd.DataFrame(decisions), rules)


def prediction_table(
    jobs: list[ModelJob], texts: list[str], model_for: ModelFor, **options: Any
) -> pd.DataFrame:
    """The export table of ``predict_session``: predictions, probabilities and thresholds."""
    return predict_session(jobs, texts, model_for, **options).export()
