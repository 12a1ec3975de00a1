"""Small datasets built in code, written in any supported format (shared by several test files)."""

from __future__ import annotations

import json
import random
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

FORMATS = ("csv", "tsv", "jsonl", "ndjson", "json", "parquet", "xlsx")

DEFAULT_KEYS: dict[str, list[str]] = {
    "sentiment": ["positive", "negative", "neutral"],
    "themes": ["economy", "health", "environment", "sports"],
}
DEFAULT_MULTI = ("themes",)
WORDS = {
    "EN": "the report says that",
    "FR": "le rapport dit que",
    "DE": "der Bericht sagt dass",
}


def make_rows(
    n: int,
    keys: Mapping[str, Sequence[str]] | None = None,
    languages: Sequence[str] = ("EN", "FR"),
    seed: int = 0,
    multi: Collection[str] = DEFAULT_MULTI,
) -> list[dict[str, Any]]:
    """Rows with ``text``, ``lang`` and ``annotation`` (a JSON string).

    Single-valued keys get one value per row, cycling so every value appears; keys in ``multi``
    get 0-2 values. Texts contain the label words, so a model could learn them.
    """
    keys = dict(DEFAULT_KEYS if keys is None else keys)
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        lang = languages[i % len(languages)] if languages else "EN"
        annotation: dict[str, Any] = {}
        for key, values in keys.items():
            if key in multi:
                annotation[key] = sorted(
                    rng.sample(list(values), rng.randint(0, min(2, len(values))))
                )
            else:
                annotation[key] = values[(i // max(1, len(languages))) % len(values)]
        words = [
            v for vals in annotation.values() for v in ([vals] if isinstance(vals, str) else vals)
        ]
        text = f"{WORDS.get(lang, 'text')} {' '.join(words)} number {i}"
        rows.append({"text": text, "lang": lang, "annotation": json.dumps(annotation)})
    return rows


def write_dataset(tmp_path: Path, fmt: str, rows: list[dict[str, Any]], name: str = "data") -> Path:
    """Write ``rows`` as ``<name>.<fmt>`` in ``tmp_path`` and return the path."""
    path = Path(tmp_path) / f"{name}.{fmt}"
    frame = pd.DataFrame(rows)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif fmt in ("jsonl", "ndjson"):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    elif fmt == "json":
        path.write_text(json.dumps(rows, ensure_ascii=False), "utf-8")
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "xlsx":
        frame.to_excel(path, index=False, engine="openpyxl")
    else:
        raise ValueError(f"unknown format {fmt}")
    return path


def write_bytes(tmp_path: Path, filename: str, data: bytes) -> Path:
    path = Path(tmp_path) / filename
    path.write_bytes(data)
    return path


def write_text(tmp_path: Path, filename: str, text: str, encoding: str = "utf-8") -> Path:
    return write_bytes(tmp_path, filename, text.encode(encoding))
