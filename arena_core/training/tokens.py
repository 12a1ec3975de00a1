"""Tokenize a session's texts once and reuse them for all its jobs (one-vs-all trains many
models on the same texts). Optionally cached as a .npz file (never pickle).

The ids live in one flat ``int32`` array with ``int64`` offsets (row ``i`` is
``ids[offsets[i]:offsets[i + 1]]``): the 2.25 M tokens of 100,000 texts (bench/memory_100k.py)
take 9.3 MiB this way, against 78 MiB as Python lists of ints (an int object and a list slot
per token), and a worker's splits and batches read views of it, never copies.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from arena_core.store.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

ENCODING_VERSION = 1
_CHUNK = 4096  # texts per tokenizer call: bounds peak memory on big datasets


@dataclass
class Encoded:
    """Token ids per text (special tokens included, no padding, truncated to ``max_length``),
    as one flat array: row ``i`` is ``ids[offsets[i]:offsets[i + 1]]`` (see ``row``)."""

    ids: np.ndarray  # int32, every row's ids one after the other
    offsets: np.ndarray  # int64, len(texts) + 1 entries, offsets[0] == 0
    max_length: int
    fingerprint: str = ""

    def __post_init__(self) -> None:
        self.ids = np.ascontiguousarray(self.ids, dtype=np.int32)
        self.offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        if self.offsets.ndim != 1 or len(self.offsets) < 1 or self.offsets[0] != 0:
            raise ValueError("offsets must start at 0, one more entry than rows")
        if int(self.offsets[-1]) != len(self.ids) or np.any(np.diff(self.offsets) < 0):
            raise ValueError("offsets do not match the flat ids")

    @classmethod
    def from_lists(cls, rows: list[list[int]], max_length: int, fingerprint: str = "") -> Encoded:
        """From per-row id lists (tests, small inputs)."""
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=offsets[1:])
        flat = np.fromiter((t for r in rows for t in r), dtype=np.int32, count=int(offsets[-1]))
        return cls(flat, offsets, max_length, fingerprint)

    @property
    def lengths(self) -> np.ndarray:
        """Ids per row (int64)."""
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> np.ndarray:
        """Row ``i``'s ids: a view into the flat array (no copy)."""
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def rows(self) -> list[list[int]]:
        """Every row as a list of ints (small inputs and tests only: this is what the flat
        array saves)."""
        return [self.row(i).tolist() for i in range(len(self))]

    def save(self, path: Path) -> None:
        """Write as .npz (flat ids + offsets), atomically."""
        buffer = io.BytesIO()
        np.savez(
            buffer,
            ids=self.ids,
            offsets=self.offsets,
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
            return cls(
                data["ids"], data["offsets"], int(data["max_length"]), str(data["fingerprint"])
            )


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
    """Tokenize without padding (the collator pads each batch to its own longest text).

    Chunk by chunk: only one chunk's ids are ever Python lists; each chunk is appended to the
    flat array as int32 at once."""
    texts = ["" if t is None else str(t) for t in texts]
    chunks: list[np.ndarray] = []
    lengths = np.zeros(len(texts) + 1, dtype=np.int64)
    for start in range(0, len(texts), _CHUNK):
        batch = tokenizer(
            texts[start : start + _CHUNK],
            truncation=True,
            max_length=max_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        sizes = np.fromiter((len(ids) for ids in batch), dtype=np.int64, count=len(batch))
        lengths[start + 1 : start + 1 + len(batch)] = sizes
        flat = np.fromiter(
            (t for ids in batch for t in ids), dtype=np.int32, count=int(sizes.sum())
        )
        chunks.append(flat)
        del batch
    ids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)
    return Encoded(ids, np.cumsum(lengths), max_length, fingerprint(tokenizer, texts, max_length))


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
