"""The user's file -> one normalised table: row, text, language, id, one label list per key.

Two layouts are accepted: an annotation column holding a JSON object per row (an LLM export,
key -> value or list of values), or one column per key. Both give the same table, so the
strategy, split and training code never see the difference.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arena_core.data.readers import read_table
from arena_core.errors import DatasetError
from arena_core.session.manifest import DatasetOptions

log = logging.getLogger(__name__)

ROW = "row"  # 0-based data row index in the source file
TEXT = "text"
LANGUAGE = "language"
ID = "id"
LABEL_PREFIX = "labels::"
MAX_LISTED = 10  # row numbers quoted in a warning
ROWS_NOTE = "data rows counted from 1, header not counted"


def label_column(key: str) -> str:
    return f"{LABEL_PREFIX}{key}"


@dataclass
class KeyStats:
    """What one annotation key looks like in the data, before any filtering."""

    counts: dict[str, int]  # label -> rows having it, sorted by label
    multi_valued: bool  # some row has more than one value
    empty_rows: int  # rows with no value for this key
    warnings: list[str] = field(default_factory=list)

    @property
    def n_values(self) -> int:
        return len(self.counts)


@dataclass
class NormalisedDataset:
    table: pd.DataFrame  # ROW, TEXT, LANGUAGE, ID, then label_column(key) per key
    keys: dict[str, KeyStats]
    languages: dict[str, int]
    warnings: list[str]
    source_name: str
    options: DatasetOptions

    @property
    def n_rows(self) -> int:
        return len(self.table)

    def labels(self, key: str) -> pd.Series:
        """The label lists of ``key``, one per row."""
        return self.table[label_column(key)]


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


# ---------------------------------------------------------------- value helpers


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return False


def _scalar_label(value: Any) -> str | None:
    """A label value as text: 1 -> "1", 1.0 -> "1", True -> "true"; None/"" -> None."""
    if _missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    return text or None


def _value_list(value: Any, key: str, row: int, source: str) -> list[str]:
    """All labels of one cell, de-duplicated in order; a nested object is an error."""
    items = value.tolist() if isinstance(value, np.ndarray) else value
    if not isinstance(items, list | tuple | set):
        items = [items]
    labels: list[str] = []
    for item in items:
        if isinstance(item, dict | list | tuple | np.ndarray):
            raise DatasetError(
                f"{source}: key '{key}' holds a nested {'object' if isinstance(item, dict) else 'list'} "
                f"at data row {row + 1} ({ROWS_NOTE}): each value must be a label or a list of "
                "labels. Flatten it in the file or choose other keys."
            )
        label = _scalar_label(item)
        if label is not None and label not in labels:
            labels.append(label)
    return labels


def _parse_object(cell: Any) -> dict[str, Any] | None:
    """A JSON object from a cell (dict, JSON text, or a Python dict repr); None if invalid."""
    if isinstance(cell, dict):
        return cell
    if not isinstance(cell, str):
        return None
    text = cell.strip()
    for _ in range(2):  # a JSON string holding JSON (double-encoded export)
        try:
            value = json.loads(text)
        except ValueError:
            break
        if isinstance(value, dict):
            return value
        if not isinstance(value, str):
            return None
        text = value.strip()
    if text.startswith("{") and len(text) < 100_000:
        try:  # {'key': 'value'}: a Python dict written with str()
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            return None
        return value if isinstance(value, dict) else None
    return None


def _split_cell(cell: Any, separator: str, key: str, row: int, source: str) -> list[str]:
    """A label-column cell: one value, a JSON list, or values joined by ``separator``."""
    if _missing(cell):
        return []
    if isinstance(cell, str):
        text = cell.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, list):
                return _value_list(parsed, key, row, source)
        if separator and separator in text:
            return _value_list(text.split(separator), key, row, source)
        return _value_list(text, key, row, source)
    return _value_list(cell, key, row, source)


def _rows_listed(rows: list[int]) -> str:
    shown = ", ".join(str(r + 1) for r in rows[:MAX_LISTED])
    return shown + (", ..." if len(rows) > MAX_LISTED else "")


def _require_column(frame: pd.DataFrame, column: str | None, role: str, source: str) -> str:
    available = ", ".join(f"'{c}'" for c in frame.columns[:30])
    if len(frame.columns) > 30:
        available += ", ..."
    if not column:
        raise DatasetError(f"{source}: no {role} chosen. Available columns: {available}.")
    if column not in frame.columns:
        raise DatasetError(
            f"{source}: the {role} '{column}' is not in the file. "
            f"Choose one of the available columns: {available}."
        )
    return column


# ---------------------------------------------------------------- normalise


def normalise(
    frame: pd.DataFrame,
    options: DatasetOptions,
    source_name: str,
    warnings: list[str] | None = None,
) -> NormalisedDataset:
    """Parse labels and languages into the normalised table (see the module docstring)."""
    notes = list(warnings or [])
    text_col = _require_column(frame, options.text_col, "text column", source_name)
    if options.layout == "annotation-json":
        ann_col = _require_column(frame, options.annotation_col, "annotation column", source_name)
        label_cols: list[str] = []
    else:
        ann_col = None
        if not options.label_cols:
            raise DatasetError(
                f"{source_name}: no label columns chosen. Pick at least one column holding "
                "labels, or use the annotation-json layout."
            )
        label_cols = [
            _require_column(frame, c, "label column", source_name) for c in options.label_cols
        ]
    lang_col = (
        _require_column(frame, options.lang_col, "language column", source_name)
        if options.lang_col
        else None
    )
    id_col = (
        _require_column(frame, options.id_col, "id column", source_name) if options.id_col else None
    )

    # Rows without text cannot be trained on.
    rows: list[int] = []
    texts: list[str] = []
    no_text: list[int] = []
    for position, cell in enumerate(frame[text_col].tolist()):
        text = "" if _missing(cell) else str(cell).strip()
        if text:
            rows.append(position)
            texts.append(text)
        else:
            no_text.append(position)
    if no_text:
        notes.append(
            f"{source_name}: skipped {len(no_text)} row(s) with an empty text in '{text_col}' "
            f"(rows {_rows_listed(no_text)}; {ROWS_NOTE})."
        )
    if not rows:
        raise DatasetError(
            f"{source_name}: no rows with text in column '{text_col}'. "
            "Choose the column that holds the texts."
        )

    if ann_col is not None:
        keep, key_values = _parse_annotations(
            frame[ann_col].tolist(), rows, ann_col, source_name, notes
        )
    else:
        keep = [True] * len(rows)
        key_values = {
            col: [
                _split_cell(cell, options.separator, col, r, source_name)
                for r, cell in zip(rows, frame[col].take(rows).tolist(), strict=True)
            ]
            for col in label_cols
        }
    if not key_values:
        raise DatasetError(
            f"{source_name}: no annotation keys found in column '{ann_col}': each cell should be "
            'a JSON object like {"sentiment": "positive", "themes": ["economy"]}.'
        )
    kept_idx = [i for i, ok in enumerate(keep) if ok]
    rows = [rows[i] for i in kept_idx]
    texts = [texts[i] for i in kept_idx]
    key_values = {k: [v[i] for i in kept_idx] for k, v in key_values.items()}

    languages = _languages(frame, rows, texts, lang_col, options, source_name, notes)
    ids = (
        [None if _missing(v) else str(v).strip() or None for v in frame[id_col].take(rows).tolist()]
        if id_col
        else [None] * len(rows)
    )
    if id_col:
        dup = [i for i, n in Counter(x for x in ids if x is not None).items() if n > 1]
        if dup:
            notes.append(
                f"{source_name}: {len(dup)} id(s) in '{id_col}' appear more than once "
                f"(e.g. '{dup[0]}')."
            )

    keys: dict[str, KeyStats] = {}
    for key, values in key_values.items():
        keys[key] = _key_stats(key, values, source_name)
        notes.extend(keys[key].warnings)

    table = pd.DataFrame(
        {
            ROW: pd.Series(rows, dtype="int64"),
            TEXT: pd.Series(texts, dtype=object),
            LANGUAGE: pd.Series(languages, dtype=object),
            ID: pd.Series(ids, dtype=object),
            **{label_column(k): pd.Series(v, dtype=object) for k, v in key_values.items()},
        }
    )
    lang_counts = dict(sorted(Counter(x for x in languages if x is not None).items()))
    log.info("normalised %s: %d rows, keys %s", source_name, len(table), list(keys))
    return NormalisedDataset(table, keys, lang_counts, notes, source_name, options)


def _parse_annotations(
    cells: list[Any], rows: list[int], column: str, source: str, notes: list[str]
) -> tuple[list[bool], dict[str, list[list[str]]]]:
    """Per text row: is it usable, and key -> label list (keys in first-seen order)."""
    parsed: list[dict[str, Any] | None] = []
    invalid: list[int] = []
    empty: list[int] = []
    for r in rows:
        cell = cells[r]
        if _missing(cell) or (isinstance(cell, str) and not cell.strip()):
            empty.append(r)
            parsed.append(None)
            continue
        obj = _parse_object(cell)
        if obj is None:
            invalid.append(r)
        parsed.append(obj)
    if not any(p is not None for p in parsed):
        raise DatasetError(
            f"{source}: no row of column '{column}' holds a valid JSON object "
            f"({len(invalid)} invalid, {len(empty)} empty). Each cell must look like "
            '{"sentiment": "positive", "themes": ["economy"]}; check the annotation column.'
        )
    if invalid:
        notes.append(
            f"{source}: skipped {len(invalid)} row(s) whose '{column}' is not a valid JSON "
            f"object (rows {_rows_listed(invalid)}; {ROWS_NOTE})."
        )
    if empty:
        notes.append(
            f"{source}: skipped {len(empty)} row(s) with an empty '{column}' "
            f"(rows {_rows_listed(empty)}; {ROWS_NOTE})."
        )
    order: dict[str, None] = {}
    for obj in parsed:
        for key in obj or ():
            order.setdefault(str(key), None)
    values: dict[str, list[list[str]]] = {key: [] for key in order}
    for r, obj in zip(rows, parsed, strict=True):
        flat = {str(k): v for k, v in (obj or {}).items()}
        for key in order:
            values[key].append(_value_list(flat[key], key, r, source) if key in flat else [])
    return [p is not None for p in parsed], values


def _key_stats(key: str, values: list[list[str]], source: str) -> KeyStats:
    counter: Counter[str] = Counter(label for labels in values for label in labels)
    stats = KeyStats(
        counts=dict(sorted(counter.items())),
        multi_valued=any(len(labels) > 1 for labels in values),
        empty_rows=sum(1 for labels in values if not labels),
    )
    if not counter:
        stats.warnings.append(
            f"{source}: key '{key}' has no value in any row; it cannot be trained. "
            "Remove it or annotate it."
        )
    elif len(counter) == 1:
        only = next(iter(counter))
        stats.warnings.append(
            f"{source}: key '{key}' has only one value ('{only}') in every annotated row; a "
            "classifier needs at least two. Remove the key or annotate more varied rows."
        )
    return stats


def _languages(
    frame: pd.DataFrame,
    rows: list[int],
    texts: list[str],
    lang_col: str | None,
    options: DatasetOptions,
    source: str,
    notes: list[str],
) -> list[str | None]:
    if lang_col:
        found = [
            None if _missing(v) else (str(v).strip().upper() or None)
            for v in frame[lang_col].take(rows).tolist()
        ]
        origin = f"empty in column '{lang_col}'"
    elif options.detect_language:
        from arena_core.data.languages import detect_languages

        found = detect_languages(texts)
        origin = "not detected"
    else:
        return [None] * len(rows)
    unknown = [r for r, lang in zip(rows, found, strict=True) if lang is None]
    if unknown:
        notes.append(
            f"{source}: {len(unknown)} row(s) have no language ({origin}; rows "
            f"{_rows_listed(unknown)}; {ROWS_NOTE})."
        )
    return found


# ---------------------------------------------------------------- load / guess / summary


def load_dataset(
    path: Path, options: DatasetOptions, source_name: str | None = None
) -> NormalisedDataset:
    """Read and normalise a file; warnings of both steps are kept, reader's first."""
    name = source_name or Path(path).name
    result = read_table(Path(path), source_name=name)
    return normalise(result.frame, options, name, result.warnings)


_TEXT_NAMES = re.compile(r"text|content|sentence|body|message|comment|review|tweet|document|post")
_ANN_NAMES = re.compile(r"annot|label|llm|json|tag|class|pred")
_LANG_NAMES = {"lang", "language", "langue", "lng", "language_code", "lang_code", "locale"}
_ID_NAMES = {"id", "doc_id", "document_id", "row_id", "uid", "uuid", "text_id", "_id"}


def _sample(frame: pd.DataFrame, column: str, size: int = 200) -> list[Any]:
    values = [v for v in frame[column].head(5 * size).tolist() if not _missing(v)]
    return values[:size]


def guess_columns(frame: pd.DataFrame) -> ColumnGuess:
    """Best guesses for the column roles, from names and a sample of values."""
    columns = [str(c) for c in frame.columns]
    samples = {c: _sample(frame, c) for c in columns}

    def json_share(col: str) -> float:
        vals = samples[col]
        if not vals:
            return 0.0
        return sum(1 for v in vals if _parse_object(v) is not None) / len(vals)

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


def dataset_summary(ds: NormalisedDataset) -> dict[str, Any]:
    """A JSON-friendly overview for ``inspect --json`` and the Dataset page."""
    return {
        "source_name": ds.source_name,
        "n_rows": ds.n_rows,
        "keys": {
            key: {
                "counts": dict(stats.counts),
                "n_values": stats.n_values,
                "multi_valued": stats.multi_valued,
                "empty_rows": stats.empty_rows,
                "warnings": list(stats.warnings),
            }
            for key, stats in ds.keys.items()
        },
        "languages": dict(ds.languages),
        "warnings": list(ds.warnings),
        "options": ds.options.model_dump(),
    }
