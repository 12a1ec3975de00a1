"""Tokenize a session's texts once and reuse them for all its jobs (one-vs-all trains many
models on the same texts). Optionally cached as a .npz file (never pickle).
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from arena_core.store.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

ENCODING_VERSION = 1
_CHUNK = 4096  # texts per tokenizer call: bounds peak memory on big datasets


@dataclass
class Encoded:
    """Token ids per text (special tokens included, no padding, truncated to ``max_length``)."""

    input_ids: list[list[int]]
    max_length: int
    fingerprint: str = ""
    lengths: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.lengths = np.fromiter((len(ids) for ids in self.input_ids), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.input_ids)

    def save(self, path: Path) -> None:
        """Write as .npz (flat ids + offsets), atomically."""
        offsets = np.zeros(len(self.input_ids) + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=offsets[1:])
        flat = np.fromiter(
            (t for ids in self.input_ids for t in ids), dtype=np.int32, count=int(offsets[-1])
        )
        buffer = io.BytesIO()
        np.savez(
            buffer,
            ids=flat,
            offsets=offsets,
            max_length=np.int64(self.max_length),
            fingerprint=np.array(self.fingerprint),
            version=np.int64(ENCODING_VERSION),
        )
        atomic_write_bytes(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> Encoded:
        with np.load(Path(path), allow_pickle=False) as data:
            if int(data["version"]) != ENCODING_VERSION:
                raise ValueError(f"{path}: encoding version {int(data['version'])}")
            flat = data["ids"].tolist()
            offsets = data["offsets"].tolist()
            ids = [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
            return cls(ids, int(data["max_length"]), str(data["fingerprint"]))


def fingerprint(tokenizer: Any, texts: list[str], max_length: int) -> str:
    """Identifies (tokenizer, texts, max_length): a cache is reused only when all three match."""
    digest = hashlib.sha256()
    digest.update(
        f"{ENCODING_VERSION}|{type(tokenizer).__name__}|{len(tokenizer)}|"
        f"{getattr(tokenizer, 'name_or_path', '')}|{max_length}|{len(texts)}\n".encode()
    )
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def encode_texts(tokenizer: Any, texts: list[str], max_length: int) -> Encoded:
    """Tokenize without padding (the collator pads each batch to its own longest text)."""
    texts = ["" if t is None else str(t) for t in texts]
    ids: list[list[int]] = []
    for start in range(0, len(texts), _CHUNK):
        batch = tokenizer(
            texts[start : start + _CHUNK],
            truncation=True,
            max_length=max_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        ids.extend(list(x) for x in batch["input_ids"])
    return Encoded(ids, max_length, fingerprint(tokenizer, texts, max_length))


def encode_texts_cached(
    tokenizer: Any, texts: list[str], max_length: int, cache: Path | None
) -> Encoded:
    """``encode_texts`` with an .npz cache: reused when it matches, rewritten otherwise."""
    texts = ["" if t is None else str(t) for t in texts]
    if cache is not None and Path(cache).is_file():
        try:
            cached = Encoded.load(cache)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable token cache %s: %s", cache, exc)
        else:
            if cached.fingerprint == fingerprint(tokenizer, texts, max_length):
                return cached
            log.info("token cache %s is stale; re-tokenizing", cache)
    encoded = encode_texts(tokenizer, texts, max_length)
    if cache is not None:
        encoded.save(cache)
    return encoded
