"""Which rows a job trains and evaluates on, and their targets, per strategy (pure, no torch).

multi-class : rows whose key has exactly one value, that value being one of the job's labels
one-vs-all  : every row; target 1 when the job's label is among the row's values
multi-label : every row; a multi-hot vector over the job's labels (other values ignored)
A per-language job keeps only the rows of its language.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from arena_core.errors import StrategyError, TrainingError
from arena_core.session.strategy import ModelJob, Strategy

SPLIT_NAMES = ("train", "validation", "test")


def label_column(key: str) -> str:
    return f"labels::{key}"


@dataclass
class JobExamples:
    """Positions (``iloc``) into the table and targets, per split name."""

    indices: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    excluded: dict[str, int] = field(default_factory=dict)

    def count(self, split: str) -> int:
        return int(len(self.indices.get(split, ())))

    @property
    def n_excluded(self) -> int:
        return int(sum(self.excluded.values()))


def _values(cell: Any) -> list[str]:
    """A label cell as a list of strings (lists, numpy arrays after Parquet, None, scalars)."""
    if cell is None:
        return []
    if isinstance(cell, str):
        return [cell]
    if isinstance(cell, Iterable):
        return [str(v) for v in cell if v is not None]
    if pd.isna(cell):
        return []
    return [str(cell)]


def split_assignment(table: pd.DataFrame, split: pd.Series | pd.DataFrame) -> np.ndarray:
    """One split name per table position (None where the row has none).

    ``split`` is a Series indexed like the table, or a frame with ``row``/``split`` columns
    matched on the table's ``row`` column.
    """
    if isinstance(split, pd.DataFrame):
        mapping = dict(zip(split["row"].tolist(), split["split"].tolist(), strict=True))
        values = [mapping.get(r) for r in table["row"].tolist()]
    else:
        values = split.reindex(table.index).tolist()
    return np.array([v if isinstance(v, str) else None for v in values], dtype=object)


def _describe(job: ModelJob) -> str:
    where = f"key '{job.key}'"
    if job.label is not None:
        where += f", label '{job.label}'"
    if job.language is not None:
        where += f", language {job.language}"
    return f"{where} ({job.strategy.value})"


class ParsedRows:
    """A table's split assignment and label cells, parsed once for all the jobs that read them
    (a one-vs-all key with 20 values x 5 languages is 100 jobs over the same cells)."""

    def __init__(self, table: pd.DataFrame, split: pd.Series | pd.DataFrame) -> None:
        self.table = table
        self.assignment = split_assignment(table, split)
        self._cells: dict[str, list[list[str]]] = {}

    def cells(self, job: ModelJob) -> list[list[str]]:
        column = label_column(job.key)
        if column not in self.table:
            raise TrainingError(
                f"The dataset has no column for {_describe(job)}: re-create the session."
            )
        if column not in self._cells:
            self._cells[column] = [_values(c) for c in self.table[column].tolist()]
        return self._cells[column]


def job_examples(
    table: pd.DataFrame,
    split: pd.Series | pd.DataFrame,
    job: ModelJob,
    parsed: ParsedRows | None = None,
) -> JobExamples:
    """Select the job's rows and targets per split; raise when training is impossible.

    ``parsed`` (built from the same table and split) saves re-parsing when many jobs are read.
    """
    parsed = parsed if parsed is not None else ParsedRows(table, split)
    cells = parsed.cells(job)
    assignment = parsed.assignment
    keep = np.ones(len(table), dtype=bool)
    if job.language is not None:
        keep &= (table["language"] == job.language).fillna(False).to_numpy(dtype=bool)
    has_split = np.array([name is not None for name in assignment], dtype=bool)
    excluded: dict[str, int] = {"no_split": int((keep & ~has_split).sum())}
    keep &= has_split

    if job.strategy is Strategy.MULTI_CLASS:
        targets, keep = _multi_class(table, cells, keep, job, excluded)
    elif job.strategy is Strategy.ONE_VS_ALL:
        targets = np.array([int(job.label in values) for values in cells], dtype=np.int64)
    elif job.strategy is Strategy.MULTI_LABEL:
        position = {label: i for i, label in enumerate(job.labels)}
        targets = np.zeros((len(cells), len(job.labels)), dtype=np.float32)
        for row, values in enumerate(cells):
            for value in values:
                if value in position:
                    targets[row, position[value]] = 1.0
    else:
        raise StrategyError(f"{_describe(job)}: strategy '{job.strategy}' cannot be trained.")

    indices, per_split = {}, {}
    for name in SPLIT_NAMES:
        positions = np.flatnonzero(keep & (assignment == name))
        indices[name] = positions
        per_split[name] = targets[positions]
    examples = JobExamples(indices, per_split, {k: v for k, v in excluded.items() if v})
    _check_trainable(examples, job)
    return examples


def _multi_class(table, cells, keep, job, excluded):
    position = {label: i for i, label in enumerate(job.labels)}
    counts = np.array([len(values) for values in cells])
    multi = np.flatnonzero(keep & (counts > 1))
    if len(multi):
        rows = ", ".join(str(r) for r in table["row"].to_numpy()[multi[:10]])
        more = f" and {len(multi) - 10} more" if len(multi) > 10 else ""
        raise StrategyError(
            f"{_describe(job)}: {len(multi)} rows have several values (rows {rows}{more}), "
            "so multi-class cannot be used: choose one-vs-all or multi-label for this key."
        )
    targets = np.array(
        [position.get(values[0], -1) if len(values) == 1 else -1 for values in cells],
        dtype=np.int64,
    )
    excluded["no_value"] = int((keep & (counts == 0)).sum())
    excluded["dropped_label"] = int((keep & (counts == 1) & (targets < 0)).sum())
    return targets, keep & (targets >= 0)


def _check_trainable(examples: JobExamples, job: ModelJob) -> None:
    train = examples.targets["train"]
    if len(train) == 0:
        raise TrainingError(
            f"{_describe(job)}: the training split has no example. Check the split or the "
            "language filter, or lower 'min examples' so more rows are kept."
        )
    if job.strategy is Strategy.MULTI_LABEL:
        if not train.any():
            raise TrainingError(
                f"{_describe(job)}: no training row has any of the labels {job.labels}."
            )
        return
    present = np.unique(train)
    if len(present) < 2:
        only = job.labels[int(present[0])]
        raise TrainingError(
            f"{_describe(job)}: every training example has the same class '{only}', so there "
            "is nothing to learn. Add examples of the other classes or drop this key/label."
        )


def class_counts(job: ModelJob, train_targets: np.ndarray) -> dict[str, int]:
    """Training rows per label of ``job`` (multi-label: rows where the label is on)."""
    targets = np.asarray(train_targets)
    if job.strategy is Strategy.MULTI_LABEL:
        sums = targets.sum(axis=0)
        return {label: int(n) for label, n in zip(job.labels, sums, strict=True)}
    counts = np.bincount(targets.astype(int), minlength=len(job.labels))
    return {label: int(n) for label, n in zip(job.labels, counts, strict=True)}


def row_counts(job: ModelJob, examples: JobExamples) -> dict[str, Any]:
    """A report's row fields: rows per split, rows left out and why, training rows per label."""
    return {
        "n_train": examples.count("train"),
        "n_validation": examples.count("validation"),
        "n_test": examples.count("test"),
        "excluded_rows": examples.n_excluded,
        "excluded": examples.excluded,
        "train_class_counts": class_counts(job, examples.targets["train"]),
    }
