"""Cells of a user's file -> label lists: one value, a JSON list, joined values, or an object.

Kept apart from the table assembly in ``dataset`` so the cell rules (what counts as missing,
how 1.0 and True are spelled as labels, which JSON is accepted) can be read, reused by the
column guesser and tested on their own.
"""

from __future__ import annotations

import ast
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from arena_core.errors import DatasetError

MAX_LISTED = 10  # row numbers quoted in a warning
ROWS_NOTE = "data rows counted from 1, header not counted"


def is_missing(value: Any) -> bool:
    """True for the empty cell markers pandas and numpy use (None, NA, NaT, NaN)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return False


def rows_listed(rows: list[int]) -> str:
    """The first few 0-based ``rows`` as the 1-based numbers a user sees in a warning."""
    shown = ", ".join(str(r + 1) for r in rows[:MAX_LISTED])
    return shown + (", ..." if len(rows) > MAX_LISTED else "")


def scalar_label(value: Any) -> str | None:
    """A label value as text: 1 -> "1", 1.0 -> "1", True -> "true"; None/"" -> None."""
    if is_missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    return text or None


def value_list(value: Any, key: str, row: int, source: str) -> list[str]:
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
        label = scalar_label(item)
        if label is not None and label not in labels:
            labels.append(label)
    return labels


def parse_object(cell: Any) -> dict[str, Any] | None:
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


def split_cell(cell: Any, separator: str, key: str, row: int, source: str) -> list[str]:
    """A label-column cell: one value, a JSON list, or values joined by ``separator``."""
    if is_missing(cell):
        return []
    if isinstance(cell, str):
        text = cell.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, list):
                return value_list(parsed, key, row, source)
        if separator and separator in text:
            return value_list(text.split(separator), key, row, source)
        return value_list(text, key, row, source)
    return value_list(cell, key, row, source)


def parse_annotations(
    cells: list[Any], rows: list[int], column: str, source: str, notes: list[str]
) -> tuple[list[bool], dict[str, list[list[str]]]]:
    """Per text row: is it usable, and key -> label list (keys in first-seen order).

    Rows whose cell is empty or not an object are skipped with one note each kind; if no row
    holds an object the column is the wrong one, which is an error.
    """
    parsed = _objects_or_skip(cells, rows, column, source, notes)
    order: dict[str, None] = {}
    for obj in parsed:
        for key in obj or ():
            order.setdefault(str(key), None)
    values: dict[str, list[list[str]]] = {key: [] for key in order}
    for r, obj in zip(rows, parsed, strict=True):
        flat = {str(k): v for k, v in (obj or {}).items()}
        for key in order:
            values[key].append(value_list(flat[key], key, r, source) if key in flat else [])
    return [p is not None for p in parsed], values


def _objects_or_skip(
    cells: list[Any], rows: list[int], column: str, source: str, notes: list[str]
) -> list[dict[str, Any] | None]:
    """The annotation object of each row in ``rows``, None where empty or invalid (noted)."""
    parsed: list[dict[str, Any] | None] = []
    invalid: list[int] = []
    empty: list[int] = []
    for r in rows:
        cell = cells[r]
        if is_missing(cell) or (isinstance(cell, str) and not cell.strip()):
            empty.append(r)
            parsed.append(None)
            continue
        obj = parse_object(cell)
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
            f"object (rows {rows_listed(invalid)}; {ROWS_NOTE})."
        )
    if empty:
        notes.append(
            f"{source}: skipped {len(empty)} row(s) with an empty '{column}' "
            f"(rows {rows_listed(empty)}; {ROWS_NOTE})."
        )
    return parsed
