"""Pure metric helpers (numpy + scikit-learn): single-label metrics, multi-label metrics and
per-label decision thresholds tuned on validation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)
DEFAULT_THRESHOLD = 0.5


def _per_label(precision, recall, f1, support, labels: list[str]) -> dict[str, dict[str, float]]:
    return {
        label: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }


def classification_metrics(y_true, y_pred, labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over ``labels``, per-label P/R/F1/support and the confusion matrix.

    ``y_true``/``y_pred`` are class indices into ``labels``; labels absent from both still
    count in the macro average (as 0), so scores of different epochs stay comparable.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    ids = list(range(len(labels)))
    if len(y_true) == 0:
        return {"n": 0, "accuracy": None, "macro_f1": None, "per_label": {}, "labels": labels}
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, zero_division=0
    )
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=ids, average="macro", zero_division=0)),
        "per_label": _per_label(precision, recall, f1, support, labels),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
        "labels": list(labels),
    }


def apply_thresholds(probs, labels: list[str], thresholds: dict[str, float] | None) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    cut = np.array([(thresholds or {}).get(label, DEFAULT_THRESHOLD) for label in labels])
    return (probs >= cut).astype(np.int64)


def multilabel_metrics(
    y_true, probs, labels: list[str], thresholds: dict[str, float] | None
) -> dict[str, Any]:
    """Macro/micro F1, exact-match accuracy and per-label P/R/F1/support at the given thresholds."""
    y_true = np.asarray(y_true).astype(np.int64)
    if len(y_true) == 0:
        return {"n": 0, "accuracy": None, "macro_f1": None, "per_label": {}, "labels": labels}
    y_pred = apply_thresholds(probs, labels, thresholds)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, average=None, zero_division=0
    )
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),  # exact match of the label set
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "per_label": _per_label(precision, recall, f1, support, labels),
        "labels": list(labels),
    }


def tune_thresholds(y_true, probs, labels: list[str]) -> dict[str, float]:
    """Per label, the grid threshold (0.05..0.95) with the best F1; ties go to the value nearest
    0.5, and a label without positives keeps 0.5 (nothing to tune on)."""
    y_true = np.asarray(y_true).astype(bool)
    probs = np.asarray(probs, dtype=np.float64)
    thresholds: dict[str, float] = {}
    for i, label in enumerate(labels):
        truth = y_true[:, i] if len(y_true) else np.zeros(0, dtype=bool)
        if not truth.any():
            thresholds[label] = DEFAULT_THRESHOLD
            continue
        predicted = probs[:, i][:, None] >= THRESHOLD_GRID[None, :]  # (n, grid)
        tp = (predicted & truth[:, None]).sum(axis=0)
        fp = (predicted & ~truth[:, None]).sum(axis=0)
        fn = (~predicted & truth[:, None]).sum(axis=0)
        f1 = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
        best = np.flatnonzero(f1 == f1.max())
        choice = best[np.argmin(np.abs(THRESHOLD_GRID[best] - DEFAULT_THRESHOLD))]
        thresholds[label] = float(THRESHOLD_GRID[choice])
    return thresholds
