"""Guess which column of a freshly read file holds the text, annotations, language and id.

The guesses only prefill the Dataset page and ``arena inspect``; the user confirms or changes
them, so simple name patterns plus a look at a sample of values are enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from arena_core.data.annotations import is_missing, parse_object
from arena_core.session.manifest import DatasetOptions

_TEXT_NAMES = re.compile(r"text|content|sentence|body|message|comment|review|tweet|document|post")
_ANN_NAMES = re.compile(r"annot|label|llm|json|tag|class|pred")
_LANG_NAMES = {"lang", "language", "langue", "lng", "language_code", "lang_code", "locale"}
_ID_NAMES = {"id", "doc_id", "document_id", "row_id", "uid", "uuid", "text_id", "_id"}


@dataclass
class ColumnGuess:
    """Prefilled column choices for the UI and the CLI; the user confirms or changes them."""

    text_col: str | None
    annotation_col: str | None
    lang_col: str | None
    id_col: str | None
    label_cols: list[str]
    layout: str

    def to_options(self, detect_language: bool = False) -> DatasetOptions:
        return DatasetOptions(
            text_col=self.text_col or "text",
            layout=self.layout,  # type: ignore[arg-type]
            annotation_col=self.annotation_col,
            label_cols=list(self.label_cols) if self.layout == "label-columns" else [],
            lang_col=self.lang_col,
            id_col=self.id_col,
            detect_language=detect_language and self.lang_col is None,
        )


def _sample(frame: pd.DataFrame, column: str, size: int = 200) -> list[Any]:
    values = [v for v in frame[column].head(5 * size).tolist() if not is_missing(v)]
    return values[:size]


def guess_columns(frame: pd.DataFrame) -> ColumnGuess:
    """Best guesses for the column roles, from names and a sample of values."""
    columns = [str(c) for c in frame.columns]
    samples = {c: _sample(frame, c) for c in columns}

    def json_share(col: str) -> float:
        vals = samples[col]
        if not vals:
            return 0.0
        return sum(1 for v in vals if parse_object(v) is not None) / len(vals)

    def avg_len(col: str) -> float:
        vals = [v for v in samples[col] if isinstance(v, str)]
        return sum(len(v) for v in vals) / len(vals) if vals else 0.0

    lang_col = next((c for c in columns if c.strip().lower() in _LANG_NAMES), None)
    id_col = next((c for c in columns if c.strip().lower() in _ID_NAMES), None)
    ann_candidates = [c for c in columns if c not in (lang_col, id_col) and json_share(c) >= 0.8]
    ann_candidates.sort(key=lambda c: (not _ANN_NAMES.search(c.lower()), -json_share(c)))
    annotation_col = ann_candidates[0] if ann_candidates else None

    taken = {annotation_col, lang_col, id_col}
    text_candidates = [c for c in columns if c not in taken and avg_len(c) > 0]
    named = [c for c in text_candidates if _TEXT_NAMES.search(c.lower())]
    pool = named or text_candidates
    text_col = max(pool, key=avg_len) if pool else None

    label_cols: list[str] = []
    for col in columns:
        if col in taken or col == text_col:
            continue
        vals = samples[col]
        if not vals or avg_len(col) > 100:
            continue
        distinct = {str(v) for v in vals}
        if len(distinct) <= max(2, min(50, len(vals) // 2)):
            label_cols.append(col)
    layout = "annotation-json" if annotation_col or not label_cols else "label-columns"
    return ColumnGuess(text_col, annotation_col, lang_col, id_col, label_cols, layout)
