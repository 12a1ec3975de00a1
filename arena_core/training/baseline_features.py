"""Features for the baselines: TF-IDF n-grams, or frozen sentence embeddings of a transformer.

Both are deterministic functions of the texts (the embedding model is loaded once, lazily), so a
saved baseline rebuilds exactly the features it was fitted on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from arena_core.errors import ModelLoadError, TrainingError

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]  # (stage, fraction done)

# Word 1-2 grams + char_wb 2-5 grams (min_df 2): val-picked macro-F1 0.385/0.658/0.617 vs
# 0.329/0.622/0.510 with words alone (same runs); fit time per C about 2x (0.3-0.6 s / 600 rows).
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
# fp32: bf16 autocast gave the same macro-F1 (0.567 vs 0.566, fortunes_en) but ran 1.9x slower
# on this avx512_bf16 CPU (19.4 s vs 10.2 s per 1,000 texts).
EMBED_BATCH = 32
TINY_SEED = 0  # 'tiny' is random-init: a fixed seed makes a saved tiny baseline reloadable


def _capped(params: dict[str, Any], max_features: int | None) -> dict[str, Any]:
    """``params`` keeping at most ``max_features`` in all, shared evenly by the blocks (the most
    frequent of each block, as scikit-learn's ``max_features`` does); None changes nothing."""
    if max_features is None:
        return params
    per_block = max(1, max_features // len(TFIDF_PARAMS))
    return {**params, "max_features": min(params.get("max_features") or per_block, per_block)}


class TfidfFeatures:
    """Word and char_wb TF-IDF blocks side by side (each block L2-normalised by scikit-learn)."""

    def __init__(self, vectorizers: list[Any]):
        self.vectorizers = vectorizers

    @property
    def n_features(self) -> int:
        return sum(len(v.vocabulary_) for v in self.vectorizers)

    @classmethod
    def fit(cls, texts: list[str], max_features: int | None = None) -> tuple[TfidfFeatures, Any]:
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizers, blocks = [], []
        for params in TFIDF_PARAMS:
            vec = TfidfVectorizer(**vectorizer_kwargs(_capped(params, max_features)))
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

    def transform(self, texts: list[str]):
        from scipy import sparse

        return sparse.hstack([v.transform(texts) for v in self.vectorizers], format="csr")


def vectorizer_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """TfidfVectorizer keyword arguments from JSON-style params (lists back to tuples)."""
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
