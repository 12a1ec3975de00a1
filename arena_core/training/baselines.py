"""Fast baseline classifiers: TF-IDF n-grams or frozen sentence embeddings + logistic regression.

A baseline trains in seconds on a CPU and tells whether fine-tuning a transformer is worth it.
Model names: ``"tfidf"`` or ``"embed:<model>"`` (``<model>`` as ``resolve_model`` takes it:
``minilm``, ``tiny``, a local folder). Tasks: ``"single"`` (one class per row, K >= 2) and
``"multi"`` (a 0/1 matrix, one binary regression per label, thresholds tuned on validation).
Probabilities are computed with numpy from the coefficients, so a saved baseline
(``baseline_store``, never pickle) predicts exactly as the fitted one.

torch/transformers/scikit-learn are imported inside functions: pages import the core cheaply.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from arena_core.errors import ModelLoadError, TrainingError
from arena_core.training.baseline_features import EmbedFeatures, TfidfFeatures
from arena_core.training.evaluation import (
    apply_thresholds,
    classification_metrics,
    multilabel_metrics,
    tune_thresholds,
)

log = logging.getLogger(__name__)

BASELINE_KINDS = ("tfidf", "embed")
Task = Literal["single", "multi"]
Progress = Callable[[str, float], None]
# Measured on real text (bench.quality_data: fortunes_en, wordnet_nouns, fortunes_intl; 600
# train / 200 val / 200 test rows, 3 splits, 8-10 imbalanced classes). The best C differs by set
# (tf-idf, balanced: 0.25..16 are within 0.01 on two sets, 0.55..0.62 on fortunes_intl; MiniLM:
# 4-16, 0.25 loses up to 0.07); C=0.06 and C=64 never beat this grid. Without validation rows
# C=4: within 0.01 of the best C on all six (set x features) combinations.
C_GRID = (0.25, 1.0, 4.0, 16.0)
DEFAULT_C = 4.0
# class_weight="balanced" (same runs): val-picked macro-F1 0.385/0.658/0.617 vs 0.360/0.616/0.601
# unweighted on tf-idf, 0.561/0.821/0.557 vs 0.538/0.816/0.531 on MiniLM, and far less
# sensitive to C. Multi-label (pairs of those texts joined): a tie with tuned thresholds
# (0.684 vs 0.685, 0.627 vs 0.632), much better at the untuned 0.5 (0.695 vs 0.517, 0.625 vs 0.478).
CLASS_WEIGHT: str | None = "balanced"
_NEVER = -1e9  # logit of a class absent from the training rows / a constant label


def parse_name(model_name: str) -> tuple[str, str | None]:
    """``("tfidf", None)`` or ``("embed", "<model>")``; TrainingError for anything else."""
    raw = (model_name or "").strip()
    if raw.lower() == "tfidf":
        return "tfidf", None
    if raw.lower().startswith("embed:"):
        inner = raw[len("embed:") :].strip()
        if not inner:
            raise TrainingError(
                "Baseline 'embed:' names no model: write 'embed:minilm', 'embed:tiny' "
                "or 'embed:<local model folder>'."
            )
        return "embed", inner
    raise TrainingError(
        f"Unknown baseline {model_name!r}: use 'tfidf' or 'embed:<model>' (e.g. 'embed:minilm')."
    )


def is_baseline(model_name: str) -> bool:
    """True for 'tfidf' and any 'embed:...' name (a bad one then fails in fit_baseline with a
    clear message rather than being taken for a transformer to fine-tune)."""
    raw = (model_name or "").strip().lower()
    return raw == "tfidf" or raw.startswith("embed:")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))  # stable for any z, no overflow warnings


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class BaselineModel:
    """A fitted baseline: features + one row of coefficients per label (numpy scoring)."""

    def __init__(
        self,
        model_name: str,
        task: Task,
        labels: list[str],
        features: TfidfFeatures | EmbedFeatures,
        coef: np.ndarray,
        intercept: np.ndarray,
        thresholds: dict[str, float] | None,
        chosen_c: float,
    ):
        self.model_name = model_name
        self.task = task
        self.labels = list(labels)
        self.features = features
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.thresholds = thresholds
        self.chosen_c = float(chosen_c)

    def scores(self, features) -> np.ndarray:
        """Probabilities from an already featurised matrix (rows = texts)."""
        if features.shape[0] == 0:
            return np.zeros((0, len(self.labels)))
        if features.shape[1] != self.coef.shape[1]:
            raise ModelLoadError(
                f"Baseline '{self.model_name}' expects {self.coef.shape[1]} features but its "
                f"encoder gives {features.shape[1]}: the model changed; retrain the baseline."
            )
        z = np.asarray(features @ self.coef.T) + self.intercept
        return _softmax(z) if self.task == "single" else _sigmoid(z)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """(n, K): softmax rows for single, per-label probabilities for multi."""
        texts = _clean(texts)
        if not texts:  # scikit-learn refuses to transform 0 rows
            return np.zeros((0, len(self.labels)))
        return self.scores(self.features.transform(texts))

    def predict(self, texts: list[str]) -> np.ndarray:
        """Class indices (single) or a 0/1 matrix with the per-label thresholds (multi)."""
        probs = self.predict_proba(texts)
        if self.task == "single":
            return probs.argmax(axis=1).astype(np.int64)
        return apply_thresholds(probs, self.labels, self.thresholds)


@dataclass
class BaselineResult:
    model: BaselineModel
    seconds: float
    chosen_c: float


def _clean(texts) -> list[str]:
    return ["" if t is None else str(t) for t in texts]


def _check_targets(task: str, labels: list[str], texts, targets, what: str) -> np.ndarray:
    if targets is None:
        raise TrainingError(f"The {what} texts have no targets: pass one target per text.")
    y = np.asarray(targets)
    k = len(labels)
    if task == "single":
        if y.ndim != 1 or len(y) != len(texts):
            raise TrainingError(
                f"The {what} targets have shape {y.shape} for {len(texts)} texts: pass one "
                "class index per text."
            )
        if len(y) and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= k):
            raise TrainingError(
                f"The {what} targets must be class indices 0..{k - 1} into the {k} labels."
            )
        return y.astype(np.int64)
    if y.ndim != 2 or y.shape != (len(texts), k):
        raise TrainingError(
            f"The {what} targets have shape {y.shape}; multi-label needs ({len(texts)}, {k}): "
            "one 0/1 column per label."
        )
    if y.size and not np.isin(y, (0, 1)).all():
        raise TrainingError(f"The {what} targets of a multi-label baseline must be 0 or 1.")
    return y.astype(np.int64)


def _fit_lr(x, y: np.ndarray, c: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One scikit-learn fit; returns (coef, intercept, classes) as plain arrays."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    lr = LogisticRegression(C=c, class_weight=CLASS_WEIGHT, max_iter=2000, random_state=seed)
    # One BLAS thread: L-BFGS does many tiny vector operations, and OpenBLAS threads make them
    # slower (fortunes_en, 800 rows, C=16: 9.2 s with 2 threads on a busy 2-core box, 1.5 s).
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1):
        warnings.simplefilter("always", ConvergenceWarning)
        lr.fit(x, y)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        log.warning("logistic regression (C=%s) did not fully converge", c)
    return lr.coef_, lr.intercept_, lr.classes_


def _fit_single(x, y: np.ndarray, k: int, c: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(K, d) softmax weights; a binary fit becomes logits [0, z]; absent classes never win."""
    coef, intercept, classes = _fit_lr(x, y, c, seed)
    full_coef = np.zeros((k, x.shape[1]))
    full_intercept = np.full(k, _NEVER)
    if len(classes) == 2:
        full_intercept[classes[0]] = 0.0
        full_coef[classes[1]], full_intercept[classes[1]] = coef[0], intercept[0]
    else:
        full_coef[classes], full_intercept[classes] = coef, intercept
    return full_coef, full_intercept


def _fit_multi(x, y: np.ndarray, c: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One binary regression per label; a label with one class in train is a constant."""
    coef = np.zeros((y.shape[1], x.shape[1]))
    intercept = np.zeros(y.shape[1])
    for j in range(y.shape[1]):
        column = y[:, j]
        if column.min() == column.max():
            intercept[j] = -_NEVER if column[0] == 1 else _NEVER
            continue
        w, b, _ = _fit_lr(x, column, c, seed)
        coef[j], intercept[j] = w[0], b[0]
    return coef, intercept


def _check_labels(task: str, labels: list[str]) -> list[str]:
    if task not in ("single", "multi"):
        raise TrainingError(f"Unknown task {task!r}: use 'single' or 'multi'.")
    labels = [str(label) for label in labels]
    if len(set(labels)) != len(labels) or not labels or (task == "single" and len(labels) < 2):
        raise TrainingError(
            f"Labels {labels} must be distinct, and at least 2 for a single-label baseline."
        )
    return labels


def _checked_training_rows(task: str, labels: list[str], texts, targets):
    """(texts, targets) of the training rows, or TrainingError saying what is missing."""
    texts = _clean(texts)
    if not texts:
        raise TrainingError("No training rows: add labelled rows before training a baseline.")
    y = _check_targets(task, labels, texts, targets, "training")
    if task == "single" and len(np.unique(y)) < 2:
        raise TrainingError(
            f"All training rows are '{labels[int(y[0])]}': a single-label baseline needs at "
            "least two classes in the training rows."
        )
    return texts, y


def fit_baseline(
    model_name: str,
    task: Task,
    labels: list[str],
    train_texts: list[str],
    train_targets: np.ndarray,
    val_texts: list[str] | None = None,
    val_targets: np.ndarray | None = None,
    seed: int = 42,
    progress: Progress | None = None,
    max_features: int | None = None,
) -> BaselineResult:
    """Fit a baseline; C (and multi-label thresholds) chosen on the validation rows if any.
    ``max_features`` bounds a tfidf baseline's features (the reference score of a fine-tune).

    Raises TrainingError for unusable input, ModelLoadError for an encoder that cannot load.
    """
    started = time.perf_counter()
    kind, inner = parse_name(model_name)
    report = progress or (lambda _stage, _fraction: None)
    labels = _check_labels(task, labels)
    train_texts, y = _checked_training_rows(task, labels, train_texts, train_targets)
    val_texts = _clean(val_texts or [])
    y_val = (
        _check_targets(task, labels, val_texts, val_targets, "validation") if val_texts else None
    )

    report("computing features", 0.0)
    if kind == "tfidf":
        features, x = TfidfFeatures.fit(train_texts, max_features)
    else:
        features = EmbedFeatures(str(inner))
        x = features.transform(train_texts, lambda s, f: report(s, 0.6 * f))
    x_val = features.transform(val_texts) if y_val is not None else None

    grid = C_GRID if y_val is not None else (DEFAULT_C,)
    best: tuple[float, float, np.ndarray, np.ndarray, dict[str, float] | None] | None = None
    for i, c in enumerate(grid):
        report(f"fitting C={c:g}", 0.6 + 0.4 * i / len(grid))
        if task == "single":
            coef, intercept = _fit_single(x, y, len(labels), c, seed)
        else:
            coef, intercept = _fit_multi(x, y, c, seed)
        model = BaselineModel(model_name, task, labels, features, coef, intercept, None, c)
        thresholds, score = _validate(model, x_val, y_val)
        log.info("baseline %s C=%g: validation macro-F1 %s", model_name, c, score)
        if best is None or score > best[0]:  # ties keep the smaller C (stronger prior)
            best = (score, c, coef, intercept, thresholds)
    assert best is not None
    _, chosen, coef, intercept, thresholds = best
    if task == "multi" and thresholds is None:
        thresholds = {label: 0.5 for label in labels}
    model = BaselineModel(model_name, task, labels, features, coef, intercept, thresholds, chosen)
    report("done", 1.0)
    return BaselineResult(model, time.perf_counter() - started, chosen)


def _validate(model: BaselineModel, x_val, y_val) -> tuple[dict[str, float] | None, float]:
    """(tuned thresholds for multi, validation macro-F1); (None, 0) without validation rows."""
    if y_val is None:
        return None, 0.0
    probs = model.scores(x_val)
    if model.task == "single":
        return None, classification_metrics(y_val, probs.argmax(1), model.labels)["macro_f1"]
    thresholds = tune_thresholds(y_val, probs, model.labels)
    return thresholds, multilabel_metrics(y_val, probs, model.labels, thresholds)["macro_f1"]
