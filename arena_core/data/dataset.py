"""The user's file -> one normalised table: row, text, language, id, one label list per key.

Two layouts are accepted: an annotation column holding a JSON object per row (an LLM export,
key -> value or list of values), or one column per key. Both give the same table, so the
strategy, split and training code never see the difference. How single cells become label
lists lives in ``annotations``; guessing the column roles lives in ``columns``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from arena_core.data.annotations import (
    ROWS_NOTE,
    is_missing,
    parse_annotations,
    rows_listed,
    split_cell,
)
from arena_core.data.readers import read_table
from arena_core.errors import DatasetError
from arena_core.session.manifest import DatasetOptions

log = logging.getLogger(__name__)

ROW = "row"  # 0-based data row index in the source file
TEXT = "text"
LANGUAGE = "language"
ID = "id"
LABEL_PREFIX = "labels::"


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


@dataclass
class _ChosenColumns:
    """The columns the options name, each checked to be in the frame."""

    text: str
    annotation: str | None  # set for the annotation-json layout
    labels: list[str]  # set for the label-columns layout
    language: str | None
    id: str | None


# ---------------------------------------------------------------- normalise


def normalise(
    frame: pd.DataFrame,
    options: DatasetOptions,
    source_name: str,
    warnings: list[str] | None = None,
) -> NormalisedDataset:
    """Parse labels and languages into the normalised table (see the module docstring)."""
    notes = list(warnings or [])
    columns = _chosen_columns(frame, options, source_name)
    rows, texts = _rows_with_text(frame, columns.text, source_name, notes)
    keep, key_values = _label_values(frame, columns, rows, options.separator, source_name, notes)
    kept = [i for i, ok in enumerate(keep) if ok]
    rows = [rows[i] for i in kept]
    texts = [texts[i] for i in kept]
    key_values = {k: [v[i] for i in kept] for k, v in key_values.items()}

    languages = _languages(frame, rows, texts, columns.language, options, source_name, notes)
    ids = _ids(frame, rows, columns.id, source_name, notes)
    keys = {key: _key_stats(key, values, source_name) for key, values in key_values.items()}
    for stats in keys.values():
        notes.extend(stats.warnings)

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


def _chosen_columns(frame: pd.DataFrame, options: DatasetOptions, source: str) -> _ChosenColumns:
    """The columns of ``options`` for the chosen layout; a missing or unknown one is an error."""
    text_col = _require_column(frame, options.text_col, "text column", source)
    _refuse_numbers(frame[text_col], text_col, source)  # first: other columns would get the blame
    if options.layout == "annotation-json":
        ann_col = _require_column(frame, options.annotation_col, "annotation column", source)
        label_cols: list[str] = []
    else:
        ann_col = None
        if not options.label_cols:
            raise DatasetError(
                f"{source}: no label columns chosen. Pick at least one column holding "
                "labels, or use the annotation-json layout."
            )
        label_cols = [_require_column(frame, c, "label column", source) for c in options.label_cols]
    lang_col = (
        _require_column(frame, options.lang_col, "language column", source)
        if options.lang_col
        else None
    )
    id_col = _require_column(frame, options.id_col, "id column", source) if options.id_col else None
    return _ChosenColumns(text_col, ann_col, label_cols, lang_col, id_col)


def _rows_with_text(
    frame: pd.DataFrame, text_col: str, source: str, notes: list[str]
) -> tuple[list[int], list[str]]:
    """Rows with a non-empty text and those texts; rows without text cannot be trained on."""
    rows: list[int] = []
    texts: list[str] = []
    no_text: list[int] = []
    for position, cell in enumerate(frame[text_col].tolist()):
        text = "" if is_missing(cell) else str(cell).strip()
        if text:
            rows.append(position)
            texts.append(text)
        else:
            no_text.append(position)
    if no_text:
        notes.append(
            f"{source}: skipped {len(no_text)} row(s) with an empty text in '{text_col}' "
            f"(rows {rows_listed(no_text)}; {ROWS_NOTE})."
        )
    if not rows:
        raise DatasetError(
            f"{source}: no rows with text in column '{text_col}'. "
            "Choose the column that holds the texts."
        )
    return rows, texts


def _refuse_numbers(column: pd.Series, name: str, source: str) -> None:
    """A column of numbers (stars, ids, scores) is no text to classify: say so before the
    label columns get the blame for rows that then look wrong."""
    values = [v for v in column.head(500).tolist() if not is_missing(v)]
    if not values:
        return
    numeric = sum(1 for v in values if _is_number(v))
    if numeric / len(values) >= 0.9:
        raise DatasetError(
            f"{source}: column '{name}' holds numbers, not texts. Choose the column with the "
            "texts to classify as the text column."
        )


def _is_number(value: object) -> bool:
    if isinstance(value, bool | int | float):
        return True
    try:
        float(str(value).strip())
    except ValueError:
        return False
    return True


def _label_values(
    frame: pd.DataFrame,
    columns: _ChosenColumns,
    rows: list[int],
    separator: str,
    source: str,
    notes: list[str],
) -> tuple[list[bool], dict[str, list[list[str]]]]:
    """Per text row: is it usable, and key -> label list, from either layout."""
    if columns.annotation is not None:
        keep, key_values = parse_annotations(
            frame[columns.annotation].tolist(), rows, columns.annotation, source, notes
        )
    else:
        keep = [True] * len(rows)
        key_values = {
            col: [
                split_cell(cell, separator, col, r, source)
                for r, cell in zip(rows, frame[col].take(rows).tolist(), strict=True)
            ]
            for col in columns.labels
        }
    if not key_values:
        raise DatasetError(
            f"{source}: no annotation keys found in column '{columns.annotation}': each cell "
            'should be a JSON object like {"sentiment": "positive", "themes": ["economy"]}.'
        )
    return keep, key_values


def _ids(
    frame: pd.DataFrame, rows: list[int], id_col: str | None, source: str, notes: list[str]
) -> list[str | None]:
    """The id of each row (None without an id column); repeated ids are noted, not refused."""
    if not id_col:
        return [None] * len(rows)
    ids = [
        None if is_missing(v) else str(v).strip() or None for v in frame[id_col].take(rows).tolist()
    ]
    dup = [i for i, n in Counter(x for x in ids if x is not None).items() if n > 1]
    if dup:
        notes.append(
            f"{source}: {len(dup)} id(s) in '{id_col}' appear more than once (e.g. '{dup[0]}')."
        )
    return ids


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
            None if is_missing(v) else (str(v).strip().upper() or None)
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
            f"{rows_listed(unknown)}; {ROWS_NOTE})."
        )
    return found


# ---------------------------------------------------------------- load / summary


def load_dataset(
    path: Path, options: DatasetOptions, source_name: str | None = None
) -> NormalisedDataset:
    """Read and normalise a file; warnings of both steps are kept, reader's first."""
    name = source_name or Path(path).name
    result = read_table(Path(path), source_name=name)
    return normalise(result.frame, options, name, result.warnings)


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


def from_snapshot(
    table: pd.DataFrame, keys: list[str], options: DatasetOptions, source_name: str
) -> NormalisedDataset:
    """The normalised dataset again, from a session's saved snapshot (no source file needed):
    a relaunch that changes strategies or languages re-plans from exactly the rows it trains."""
    table = table.copy()
    stats = {}
    for key in keys:
        values = [[str(v) for v in cell] for cell in table[label_column(key)].tolist()]
        table[label_column(key)] = pd.Series(values, index=table.index, dtype=object)
        stats[key] = _key_stats(key, values, source_name)
    languages = Counter(x for x in table[LANGUAGE].tolist() if isinstance(x, str))
    return NormalisedDataset(
        table, stats, dict(sorted(languages.items())), [], source_name, options
    )
