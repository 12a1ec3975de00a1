"""Padding a batch of pre-tokenized rows into tensors, straight from the flat id array.

Replaces transformers' ``DataCollatorWithPadding`` for our datasets (``hf_loop.EncodedSplit``):
that collator wants each row's ids as a Python list, which is what kept 100,000 rows at about
2 KB of Python objects each. This one copies each row's view (``Encoded.row``) into one
preallocated array, and produces exactly what the old collator produced: ``input_ids`` and
``attention_mask`` as int64, padded on the tokenizer's side with its pad id (to a multiple of
``pad_to_multiple_of`` when given), and ``labels`` as int64 (class indices, binary targets) or
float32 (multi-label 0/1 rows). tests/test_batches.py checks it against the old collator.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class PadCollator:
    """Callable collator: a list of ``{"input_ids": ids, "labels": target}`` -> tensors."""

    def __init__(self, tokenizer: Any, pad_to_multiple_of: int | None = None) -> None:
        if tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer has no pad token")
        self.pad_id = int(tokenizer.pad_token_id)
        self.left = tokenizer.padding_side == "left"
        self.multiple = pad_to_multiple_of

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        rows = [np.asarray(f["input_ids"]) for f in features]
        width = max((len(r) for r in rows), default=0)
        if self.multiple and width % self.multiple:
            width += self.multiple - width % self.multiple
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            span = slice(width - len(row), width) if self.left else slice(0, len(row))
            ids[i, span] = row
            mask[i, span] = 1
        batch = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
        if features and "labels" in features[0]:
            batch["labels"] = _labels([f["labels"] for f in features])
        return batch


def _labels(targets: list[Any]) -> torch.Tensor:
    """As ``torch.tensor`` of the old Python values gave: int64 for ints, float32 for floats."""
    array = np.asarray(targets)
    if np.issubdtype(array.dtype, np.floating):
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64))
