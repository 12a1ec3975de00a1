"""What every file reader returns, and the checks all readers share (text and binary formats)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from arena_core.errors import DatasetError


@dataclass
class ReadResult:
    """The table as read, plus warnings about what was skipped or assumed."""

    frame: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def error_detail(exc: BaseException) -> str:
    """The gist of a library error, on one line, to quote in a ``DatasetError``."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:200]


def check_duplicate_columns(names: list[Any], name: str) -> None:
    """Refuse repeated column names: pandas would rename them silently (``a`` -> ``a.1``)."""
    seen: set[str] = set()
    dups: list[str] = []
    for raw in names:
        if raw is None or (isinstance(raw, float) and np.isnan(raw)):
            continue  # unnamed columns get distinct generated names
        col = str(raw)
        if col in seen and col not in dups:
            dups.append(col)
        seen.add(col)
    if dups:
        quoted = ", ".join(f"'{d}'" for d in dups)
        raise DatasetError(
            f"{name}: duplicate column names {quoted}. Rename the columns so each name is unique."
        )
