"""Loss weighting against label imbalance, and turning logits into the metrics we report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from arena_core.session.strategy import ModelJob, Strategy
from arena_core.training.evaluation import (
    classification_metrics,
    multilabel_metrics,
    tune_thresholds,
)

MAX_POS_WEIGHT = 50.0  # multi-label class weights: cap for very rare labels


def class_weight_loss(job: ModelJob, train_targets: np.ndarray) -> Callable | None:
    """Inverse-frequency weights (n / (k * count)); multi-label: BCE pos_weight = neg/pos."""
    if job.strategy is Strategy.MULTI_LABEL:
        positives = train_targets.sum(axis=0)
        negatives = len(train_targets) - positives
        pos_weight = torch.tensor(
            np.clip(negatives / np.maximum(positives, 1), 1.0, MAX_POS_WEIGHT), dtype=torch.float32
        )

        def bce(outputs, labels, num_items_in_batch=None):
            logits = outputs.logits
            return F.binary_cross_entropy_with_logits(
                logits, labels.to(logits.dtype), pos_weight=pos_weight.to(logits.device)
            )

        return bce
    counts = np.bincount(train_targets, minlength=len(job.labels)).astype(np.float64)
    weight = torch.tensor(
        len(train_targets) / (len(job.labels) * np.maximum(counts, 1)), dtype=torch.float32
    )

    def cross_entropy(outputs, labels, num_items_in_batch=None):
        logits = outputs.logits
        return F.cross_entropy(logits, labels, weight=weight.to(device=logits.device))

    return cross_entropy


class Scorer:
    """Turns logits into metrics; keeps the details of the last validation pass."""

    def __init__(self, job: ModelJob) -> None:
        self.job = job
        self.multi_label = job.strategy is Strategy.MULTI_LABEL
        self.last: tuple[dict[str, Any], dict[str, float] | None] | None = None

    def score(self, logits, labels, thresholds: dict[str, float] | None = None):
        """(details, thresholds); multi-label thresholds are tuned here unless given."""
        logits = np.asarray(logits, dtype=np.float64)
        if self.multi_label:
            probs = 1.0 / (1.0 + np.exp(-logits))
            if thresholds is None:
                thresholds = tune_thresholds(labels, probs, self.job.labels)
            details = multilabel_metrics(labels, probs, self.job.labels, thresholds)
            default = multilabel_metrics(labels, probs, self.job.labels, None)
            details["macro_f1_at_0.5"] = default["macro_f1"]
            return details, thresholds
        return classification_metrics(labels, logits.argmax(axis=-1), self.job.labels), None

    def __call__(self, prediction) -> dict[str, float]:
        details, thresholds = self.score(prediction.predictions, prediction.label_ids)
        self.last = (details, thresholds)
        return {"macro_f1": details["macro_f1"], "accuracy": details["accuracy"]}


def metric_extras(details: dict[str, Any], prefix: str) -> dict[str, Any]:
    extra = {"per_label": details.get("per_label")}
    if "confusion_matrix" in details:
        extra["confusion_matrix"] = details["confusion_matrix"]
        extra["labels"] = details["labels"]
    for name in ("micro_f1", "macro_f1_at_0.5"):
        if name in details:
            extra[prefix + name] = details[name]
    return extra
