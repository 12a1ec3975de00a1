"""Pure metric helpers (numpy only): single-label metrics, multi-label metrics and per-label
decision thresholds tuned on validation.

numpy rather than scikit-learn on purpose: importing ``sklearn.metrics`` adds about 100 MiB to
the training worker's resident memory (see BENCHMARKS.md, "Memory"), for a few counts.
``tests/test_evaluation.py`` checks every figure against scikit-learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)
DEFAULT_THRESHOLD = 0.5


def _ratio(numerator, denominator) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _scores(tp, fp, fn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-label precision, recall, F1 and support from true/false positive/negative counts."""
    return _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2 * tp, 2 * tp + fp + fn), tp + fn


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


def confusion(y_true, y_pred, n_labels: int) -> np.ndarray:
    """(n_labels, n_labels) counts: row = true class, column = predicted class."""
    pairs = np.asarray(y_true, dtype=np.int64) * n_labels + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(pairs, minlength=n_labels * n_labels).reshape(n_labels, n_labels)


def classification_metrics(y_true, y_pred, labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over ``labels``, per-label P/R/F1/support and the confusion matrix.

    ``y_true``/``y_pred`` are class indices into ``labels``; labels absent from both still
    count in the macro average (as 0), so scores of different epochs stay comparable.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if len(y_true) == 0:
        return {"n": 0, "accuracy": None, "macro_f1": None, "per_label": {}, "labels": labels}
    matrix = confusion(y_true, y_pred, len(labels))
    tp = np.diag(matrix)
    precision, recall, f1, support = _scores(tp, matrix.sum(axis=0) - tp, matrix.sum(axis=1) - tp)
    return {
        "n": int(len(y_true)),
        "accuracy": float(np.mean(y_true == y_pred)),
        "macro_f1": float(f1.mean()),
        "per_label": _per_label(precision, recall, f1, support, labels),
        "confusion_matrix": matrix.tolist(),
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
    y_true = np.asarray(y_true).astype(bool)
    if len(y_true) == 0:
        return {"n": 0, "accuracy": None, "macro_f1": None, "per_label": {}, "labels": labels}
    y_pred = apply_thresholds(probs, labels, thresholds).astype(bool)
    tp = (y_true & y_pred).sum(axis=0)
    fp = (~y_true & y_pred).sum(axis=0)
    fn = (y_true & ~y_pred).sum(axis=0)
    precision, recall, f1, support = _scores(tp, fp, fn)
    micro_f1 = _ratio(2 * tp.sum(), 2 * tp.sum() + fp.sum() + fn.sum())
    return {
        "n": int(len(y_true)),
        "accuracy": float(np.mean((y_true == y_pred).all(axis=1))),  # exact match of the label set
        "macro_f1": float(f1.mean()),
        "micro_f1": float(micro_f1),
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
