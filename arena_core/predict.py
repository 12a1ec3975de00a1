"""Predictions of a saved job model (the model/ folder of a job) for a list of texts.

Multi-label models apply the per-label thresholds saved in their config; other models return
their top label. torch/transformers are imported inside the function (pages import this).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .errors import ModelLoadError

log = logging.getLogger(__name__)


def predict_texts(
    model_dir: Path, texts: list[str], batch_size: int = 32, max_length: int = 512
) -> list[dict[str, Any]]:
    """One dict per text: ``{"label", "score", "scores"}``, or for multi-label models
    ``{"labels", "scores"}`` (labels whose probability reaches their threshold)."""
    from .models import force_offline

    force_offline()
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ModelLoadError(f"{model_dir} holds no trained model (no config.json).")
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, local_files_only=True)
    model.eval()
    config = model.config
    labels = [config.id2label[i] for i in range(config.num_labels)]
    multi_label = config.problem_type == "multi_label_classification"
    thresholds = getattr(config, "thresholds", None) or {}
    limit = min(max_length, getattr(config, "max_position_embeddings", max_length))

    texts = ["" if t is None else str(t) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
    results: list[dict[str, Any] | None] = [None] * len(texts)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            inputs = tokenizer(
                [texts[i] for i in batch],
                truncation=True,
                max_length=limit,
                padding=True,
                return_tensors="pt",
            )
            logits = model(**inputs).logits.float()
            probs = torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)
            for i, row in zip(batch, probs.tolist(), strict=True):
                scores = dict(zip(labels, row, strict=True))
                if multi_label:
                    chosen = [lab for lab in labels if scores[lab] >= thresholds.get(lab, 0.5)]
                    results[i] = {"labels": chosen, "scores": scores}
                else:
                    top = max(range(len(row)), key=row.__getitem__)
                    results[i] = {"label": labels[top], "score": row[top], "scores": scores}
    return results  # type: ignore[return-value]
