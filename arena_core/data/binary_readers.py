"""Read the binary formats, Parquet and Excel .xlsx, into a DataFrame (see ``readers``).

Apart from the text formats because their libraries (pyarrow, openpyxl) are heavy and only
loaded when such a file arrives, and because their checks are about signatures and
workbooks rather than encodings and separators.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arena_core.data.read_result import ReadResult, check_duplicate_columns, error_detail
from arena_core.errors import DatasetError


def _to_python(value: Any) -> Any:
    """Nested Parquet values (numpy arrays inside) as plain lists and dicts."""
    if isinstance(value, np.ndarray):
        return [_to_python(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {k: _to_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_python(v) for v in value]
    return value


def read_parquet(path: Path, name: str, suffix: str) -> ReadResult:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(path, "rb") as handle:
        head = handle.read(4)
    if head != b"PAR1":
        raise DatasetError(
            f"{name}: is not a Parquet file (it does not start with the Parquet signature). "
            "Export it again as Parquet, or rename it to its real format."
        )
    try:
        parquet = pq.ParquetFile(path)
        check_duplicate_columns(parquet.schema_arrow.names, name)
        table = parquet.read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetError(
            f"{name}: is not a readable Parquet file ({error_detail(exc)}). Export it again."
        ) from None
    columns: dict[str, pd.Series] = {}
    for col_name, column in zip(table.schema.names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_nested(kind):
            columns[col_name] = pd.Series([_to_python(v) for v in column.to_pylist()], dtype=object)
        else:
            try:
                columns[col_name] = column.to_pandas()
            except (pa.ArrowException, ValueError):
                columns[col_name] = pd.Series(column.to_pylist(), dtype=object)
    return ReadResult(pd.DataFrame(columns), [])


def read_excel(path: Path, name: str, suffix: str) -> ReadResult:
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if not head.startswith(b"PK\x03\x04"):
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            hint = "it is an old .xls workbook: save it as .xlsx or CSV"
        elif b"\x00" not in head:
            hint = "it looks like CSV or plain text: rename it to .csv"
        else:
            hint = "save it again from Excel as .xlsx, or export CSV"
        raise DatasetError(f"{name}: is not an Excel .xlsx workbook; {hint}.")
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = pd.ExcelFile(path, engine="openpyxl")
    except zipfile.BadZipFile:
        raise DatasetError(
            f"{name}: is a damaged Excel workbook (not a complete zip archive). "
            "Save it again from Excel, or export CSV."
        ) from None
    except (InvalidFileException, KeyError, ValueError, OSError, EOFError) as exc:
        raise DatasetError(
            f"{name}: is not a readable Excel .xlsx workbook ({error_detail(exc)}). "
            "Save it again from Excel, or export CSV."
        ) from None
    with workbook:
        sheets = workbook.sheet_names
        if not sheets:
            raise DatasetError(f"{name}: the workbook has no sheet. Add the data to a sheet.")
        try:
            header = workbook.parse(sheets[0], header=None, nrows=1, dtype=str)
            if header.empty:
                raise DatasetError(f"{name}: the first sheet '{sheets[0]}' is empty.")
            check_duplicate_columns(header.iloc[0].tolist(), name)
            frame = workbook.parse(sheets[0], dtype=str, keep_default_na=False, na_values=[""])
        except DatasetError:
            raise
        except Exception as exc:  # openpyxl raises many kinds on damaged sheet XML
            raise DatasetError(
                f"{name}: the sheet '{sheets[0]}' cannot be read ({error_detail(exc)}). "
                "Save it again from Excel, or export CSV."
            ) from None
    messages = []
    if len(sheets) > 1:
        messages.append(
            f"{name}: read the first sheet '{sheets[0]}' only ({len(sheets)} sheets in the file)."
        )
    return ReadResult(frame, messages)
