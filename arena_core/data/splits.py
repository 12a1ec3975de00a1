"""Deterministic stratified train/validation/test splits, saved with a content hash.

The hash covers the assignment itself (row -> split), not the Parquet bytes, so it is stable
across pyarrow versions and a relaunch can prove it trains on the identical split.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from arena_core.errors import ArenaError, StorageError
from arena_core.store.atomic import atomic_write_bytes

TRAIN, VALIDATION, TEST = "train", "validation", "test"
SPLITS = (TRAIN, VALIDATION, TEST)


def split_hash(rows: pd.Series, assignment: pd.Series) -> str:
    text = "\n".join(f"{r}:{s}" for r, s in zip(rows.tolist(), assignment.tolist(), strict=True))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _strata(table: pd.DataFrame, stratify_columns: list[str]) -> pd.Series:
    """One stratum label per row: language plus the first value of each given key column."""
    parts = []
    if "language" in table:
        parts.append(table["language"].fillna("").astype(str))
    for column in stratify_columns:
        parts.append(table[column].map(lambda v: v[0] if len(v) else ""))
    if not parts:
        return pd.Series("", index=table.index)
    strata = parts[0]
    for part in parts[1:]:
        strata = strata + "|" + part
    return strata


def make_split(
    table: pd.DataFrame,
    val_ratio: float,
    test_ratio: float,
    seed: int,
    stratify_columns: list[str] | None = None,
) -> pd.Series:
    """Assign every row to train/validation/test, stratified where strata are big enough.

    Rows of strata too small to be split (fewer rows than splits) go to train, so rare
    combinations never make the split fail; the rest is split per stratum with a seeded RNG.
    """
    rng = np.random.default_rng(seed)
    strata = _strata(table, stratify_columns or [])
    assignment = pd.Series(TRAIN, index=table.index, dtype=object)
    for _, index in strata.groupby(strata, sort=True).groups.items():
        index = np.array(sorted(index))
        rng.shuffle(index)
        n = len(index)
        n_val = int(round(n * val_ratio))
        n_test = int(round(n * test_ratio))
        if n >= 3:
            n_val = max(n_val, 1)
            n_test = max(n_test, 1) if test_ratio > 0 else 0
        if n_val + n_test >= n:  # keep at least one training row per stratum
            n_val, n_test = 0, 0
        assignment[index[:n_val]] = VALIDATION
        assignment[index[n_val : n_val + n_test]] = TEST
    if (assignment == VALIDATION).sum() == 0 and len(table) >= 2:
        # Tiny datasets: strata were all too small; fall back to one unstratified cut.
        order = rng.permutation(len(table))
        n_val = max(1, int(round(len(table) * val_ratio)))
        assignment[:] = TRAIN
        assignment.iloc[order[:n_val]] = VALIDATION
    return assignment


def write_split(path: Path, rows: pd.Series, assignment: pd.Series) -> str:
    """Save row -> split as Parquet; returns the assignment hash."""
    import io

    frame = pd.DataFrame({"row": rows.to_numpy(), "split": assignment.to_numpy()})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write_bytes(path, buffer.getvalue())
    return split_hash(frame["row"], frame["split"])


def read_split(path: Path) -> tuple[pd.DataFrame, str]:
    """(frame with row/split columns, hash). Raises ArenaError when unreadable."""
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        if isinstance(exc, OSError) and not Path(path).exists():
            raise StorageError(f"Split file {path} is missing.") from exc
        raise ArenaError(f"Split file {path} cannot be read ({exc}).") from exc
    if list(frame.columns[:2]) != ["row", "split"]:
        raise ArenaError(f"Split file {path} has unexpected columns {list(frame.columns)}.")
    return frame, split_hash(frame["row"], frame["split"])


def split_counts(assignment: pd.Series) -> dict[str, int]:
    return {name: int((assignment == name).sum()) for name in SPLITS}
