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
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from arena_core.errors import ModelLoadError, TrainingError
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
# C picked by validation macro-F1. Synthetic 1,000 rows, 5 classes (see the report in
# BENCHMARKS.md): 0.25 underfits, 4-16 win on tf-idf, 1-16 on embeddings; outside this range
# never won. Without validation rows 4 is used: it won or tied on every set measured.
C_GRID = (0.25, 1.0, 4.0, 16.0)
DEFAULT_C = 4.0
# class_weight="balanced" measured on 1:9 imbalanced synthetic text (5 seeds): macro-F1
# 0.86 vs 0.81 unweighted for single; for multi-label, with tuned thresholds, it is a tie.
CLASS_WEIGHT = "balanced"
# Word 1-2 grams + char_wb 2-5 grams: +3..6 points of macro-F1 over words alone on text with
# typos and inflections (2x the fit time, still well under a second per 1,000 rows).
TFIDF_PARAMS: tuple[dict[str, Any], ...] = (
    {"analyzer": "word", "ngram_range": [1, 2], "sublinear_tf": True, "max_features": 200_000},
    {
        "analyzer": "char_wb",
        "ngram_range": [2, 5],
        "sublinear_tf": True,
        "min_df": 2,
        "max_features": 200_000,
    },
)
EMBED_MAX_LENGTH = 256  # all-MiniLM-L6-v2 was trained on 256 tokens
EMBED_BATCH = 32
TINY_SEED = 0  # 'tiny' is random-init: a fixed seed makes a saved tiny baseline reloadable
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


class TfidfFeatures:
    """Word and char_wb TF-IDF blocks side by side (each block L2-normalised by scikit-learn)."""

    def __init__(self, vectorizers: list[Any]):
        self.vectorizers = vectorizers

    @classmethod
    def fit(cls, texts: list[str]) -> tuple[TfidfFeatures, Any]:
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizers, blocks = [], []
        for params in TFIDF_PARAMS:
            vec = TfidfVectorizer(**_sklearn_params(params))
            try:
                blocks.append(vec.fit_transform(texts))
            except ValueError as exc:  # "empty vocabulary", "max_df < min_df" on tiny sets
                if params["analyzer"] == "word":
                    raise TrainingError(
                        f"The training texts give no usable words ({exc}): check the text column."
                    ) from exc
                continue  # char block dropped (e.g. min_df on a handful of rows)
            vectorizers.append(vec)
        return cls(vectorizers), sparse.hstack(blocks, format="csr")

    @classmethod
    def rebuild(cls, params: list[dict[str, Any]], vocabularies: list[dict[str, int]], idfs):
        """The fitted vectorizers back from their params, vocabulary and idf vector."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizers = []
        for p, vocabulary, idf in zip(params, vocabularies, idfs, strict=True):
            vec = TfidfVectorizer(vocabulary=vocabulary, **_sklearn_params(p))
            vec.idf_ = np.asarray(idf, dtype=np.float64)
            vectorizers.append(vec)
        return cls(vectorizers)

    def transform(self, texts: list[str], progress: Progress | None = None):
        from scipy import sparse

        return sparse.hstack([v.transform(texts) for v in self.vectorizers], format="csr")

    @property
    def width(self) -> int:
        return sum(len(v.vocabulary_) for v in self.vectorizers)


def _sklearn_params(params: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in params.items() if k != "vocabulary"}
    out["ngram_range"] = tuple(out["ngram_range"])
    return out


class EmbedFeatures:
    """Frozen encoder: mean of the last hidden states over the attention mask, L2-normalised.

    The encoder loads on first use (a loaded baseline costs nothing until it predicts)."""

    def __init__(self, model: str, max_length: int = EMBED_MAX_LENGTH):
        from arena_core.training.models import resolve_model

        self.model = model
        self.source = resolve_model(model)  # ModelLoadError now rather than at first predict
        self.max_length = max_length
        self._encoder: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        from arena_core.training import models

        models.force_offline()
        import torch
        from transformers import AutoModel, BertConfig, BertModel

        tokenizer = models.load_tokenizer(self.source)
        if self.source.kind == "tiny":
            with torch.random.fork_rng(devices=[]):  # leave the caller's RNG alone
                torch.manual_seed(TINY_SEED)
                config = BertConfig(**models.TINY_CONFIG, vocab_size=tokenizer.vocab_size)
                encoder = BertModel(config, add_pooling_layer=False)
        else:
            try:
                encoder = AutoModel.from_pretrained(self.source.ref, local_files_only=True)
            except (OSError, ValueError) as exc:
                raise ModelLoadError(
                    f"Cannot load the encoder '{self.source.display}': {exc}. "
                    f"{models.OFFLINE_HINT}."
                ) from exc
        self.max_length = models.effective_max_length(self.max_length, self.source, tokenizer)
        return tokenizer, encoder.eval()

    def transform(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        import torch

        with self._lock:
            if self._encoder is None:
                self._encoder = self._load()
            tokenizer, encoder = self._encoder
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding
            out: np.ndarray | None = None
            with torch.inference_mode():
                for start in range(0, len(order), EMBED_BATCH):
                    batch = order[start : start + EMBED_BATCH]
                    inputs = tokenizer(
                        [texts[i] for i in batch],
                        truncation=True,
                        max_length=self.max_length,
                        padding=True,
                        return_tensors="pt",
                    )
                    hidden = encoder(**inputs).last_hidden_state.float()
                    mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                    vectors = torch.nn.functional.normalize(mean, p=2, dim=1).numpy()
                    if out is None:
                        out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float64)
                    out[batch] = vectors
                    if progress:
                        progress("embedding texts", min(1.0, (start + len(batch)) / len(texts)))
        return out if out is not None else np.zeros((0, 0))

    @property
    def width(self) -> int | None:
        return None  # known once the encoder ran


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
        return self.scores(self.features.transform(_clean(texts)))

    def predict(self, texts: list[str]) -> np.ndarray:
        """Class indices (single) or a 0/1 matrix with the per-label thresholds (multi)."""
        return self._decide(self.predict_proba(texts))

    def _decide(self, probs: np.ndarray) -> np.ndarray:
        if self.task == "single":
            return probs.argmax(axis=1).astype(np.int64)
        return apply_thresholds(probs, self.labels, self.thresholds)

    def save(self, folder: Path) -> None:
        """baseline.json + baseline.safetensors in ``folder`` (no pickle: safe to share)."""
        from arena_core.training.baseline_store import save_baseline

        save_baseline(self, Path(folder))


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
) -> BaselineResult:
    """Fit a baseline; C (and multi-label thresholds) chosen on the validation rows if any.

    Raises TrainingError for unusable input, ModelLoadError for an encoder that cannot load.
    """
    started = time.perf_counter()
    kind, inner = parse_name(model_name)
    report = progress or (lambda _stage, _fraction: None)
    if task not in ("single", "multi"):
        raise TrainingError(f"Unknown task {task!r}: use 'single' or 'multi'.")
    labels = [str(label) for label in labels]
    if len(set(labels)) != len(labels) or not labels or (task == "single" and len(labels) < 2):
        raise TrainingError(
            f"Labels {labels} must be distinct, and at least 2 for a single-label baseline."
        )
    train_texts = _clean(train_texts)
    if not train_texts:
        raise TrainingError("No training rows: add labelled rows before training a baseline.")
    y = _check_targets(task, labels, train_texts, train_targets, "training")
    if task == "single" and len(np.unique(y)) < 2:
        raise TrainingError(
            f"All training rows are '{labels[int(y[0])]}': a single-label baseline needs at "
            "least two classes in the training rows."
        )
    val_texts = _clean(val_texts or [])
    y_val = (
        _check_targets(task, labels, val_texts, val_targets, "validation") if val_texts else None
    )

    report("computing features", 0.0)
    if kind == "tfidf":
        features, x = TfidfFeatures.fit(train_texts)
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


def load_baseline(folder: Path) -> BaselineModel:
    """The baseline saved in ``folder``; ModelLoadError if files are missing or damaged."""
    from arena_core.training.baseline_store import load_baseline as load

    return load(Path(folder))
