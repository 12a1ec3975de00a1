"""Read a user's data file (CSV, TSV, JSON lines, JSON, Parquet, Excel) into a DataFrame.

The text formats are read here, Parquet and Excel in ``binary_readers``.

Every problem a user can cause becomes one ``DatasetError`` naming the file and saying what to
do; recoverable oddities (skipped lines, extra sheets) come back as warnings instead. Text
formats are read as strings (only empty cells are missing), so labels like ``"None"`` or
``"007"`` survive and formula-looking text stays text.
"""

from __future__ import annotations

import io
import json
import logging
import re
import warnings as pywarnings
from pathlib import Path
from typing import Any

import pandas as pd

from arena_core.data.read_result import ReadResult, check_duplicate_columns, error_detail
from arena_core.errors import DatasetError

log = logging.getLogger(__name__)

SUPPORTED = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".xlsx")
MAX_LISTED = 10  # line numbers quoted in a warning

_BOMS = {
    b"\xef\xbb\xbf": "utf-8-sig",
    b"\xff\xfe": "utf-16",  # utf-16 reads the BOM and picks the byte order
    b"\xfe\xff": "utf-16",
}
_MAGIC = {
    b"PK\x03\x04": "a zip archive (an Excel .xlsx workbook?)",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook",
    b"PAR1": "a Parquet file",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
}
_SKIPPED_LINE = re.compile(r"Skipping line (\d+)")


def read_table(path: Path, *, source_name: str | None = None) -> ReadResult:
    """Read ``path``; the format comes from the extension of ``source_name`` (else ``path``)."""
    path = Path(path)
    name = source_name or path.name
    suffix = Path(name).suffix.lower()
    if not path.exists():
        raise DatasetError(f"{name}: the file does not exist ({path}). Check the path and retry.")
    if not path.is_file():
        raise DatasetError(f"{name}: is a folder, not a data file. Choose a file inside it.")
    if suffix not in SUPPORTED:
        raise DatasetError(
            f"{name}: '{suffix or '(no extension)'}' is not a supported format. "
            f"Save the data as one of {', '.join(SUPPORTED)}."
        )
    if path.stat().st_size == 0:
        raise DatasetError(f"{name}: the file is empty (0 bytes). Upload a file with data rows.")
    from arena_core.data import binary_readers  # loads pyarrow/openpyxl only when needed

    readers = {
        ".csv": _read_delimited,
        ".tsv": _read_delimited,
        ".jsonl": _read_jsonl,
        ".ndjson": _read_jsonl,
        ".json": _read_json,
        ".parquet": binary_readers.read_parquet,
        ".xlsx": binary_readers.read_excel,
    }
    result = readers[suffix](path, name, suffix)
    frame = result.frame
    frame.columns = [str(c) for c in frame.columns]
    if len(frame.columns) == 0:
        raise DatasetError(f"{name}: no columns found. The first row must name the columns.")
    if len(frame) == 0:
        raise DatasetError(
            f"{name}: has a header but no data rows. Add at least one row under the header."
        )
    log.info("read %s: %d rows, %d columns", name, len(frame), len(frame.columns))
    return result


# ---------------------------------------------------------------- text helpers


def _decode(path: Path, name: str, what: str) -> str:
    """The file as text: UTF-8 (with or without BOM) or UTF-16 with a BOM; never a guess."""
    data = path.read_bytes()
    for bom, encoding in _BOMS.items():
        if data.startswith(bom):
            try:
                return data.decode(encoding).lstrip("\ufeff")
            except UnicodeDecodeError:
                raise DatasetError(
                    f"{name}: starts with a {encoding} byte-order mark but is not valid "
                    f"{encoding} text: save it as UTF-8 and upload again."
                ) from None
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            raise DatasetError(
                f"{name}: looks like {kind}, not {what} text. "
                "Save it in the format its extension says, or rename it to match its content."
            )
    head = data[:65536]
    if b"\x00" in head:
        if head[1::2].count(0) > 0.4 * len(head[1::2]) or head[0::2].count(0) > 0.4 * len(
            head[0::2]
        ):
            raise DatasetError(
                f"{name}: looks like UTF-16 text without a byte-order mark, "
                "which is not UTF-8 text: save it as UTF-8 and upload again."
            )
        raise DatasetError(
            f"{name}: looks like a binary file, not {what} text. "
            f"Export the data as {what} (UTF-8) and upload again."
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DatasetError(
            f"{name}: is not UTF-8 text (first bad byte on line {line}): "
            "save it as UTF-8 and upload again."
        ) from None


def _listed(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:MAX_LISTED])
    return shown + (", ..." if len(numbers) > MAX_LISTED else "")


# ---------------------------------------------------------------- CSV / TSV


def _sniff_separator(text: str, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    header = text.split("\n", 1)[0]
    if "," not in header:
        for candidate in (";", "\t", "|"):
            if candidate in header:
                return candidate
    return ","


def _read_delimited(path: Path, name: str, suffix: str) -> ReadResult:
    what = "TSV" if suffix == ".tsv" else "CSV"
    text = _decode(path, name, what)
    if not text.strip():
        raise DatasetError(f"{name}: contains only blank lines. Upload a file with data rows.")
    sep = _sniff_separator(text, suffix)
    try:
        # header=None: the header is read as a row, so pandas never turns a line with one
        # field too many into an index (which would shift every column); such lines are skipped.
        with pywarnings.catch_warnings(record=True) as caught:
            pywarnings.simplefilter("always", pd.errors.ParserWarning)
            raw = pd.read_csv(
                io.StringIO(text),
                sep=sep,
                header=None,
                dtype=str,
                engine="c",
                keep_default_na=False,
                na_values=[""],
                on_bad_lines="warn",
            )
    except pd.errors.EmptyDataError:
        raise DatasetError(
            f"{name}: no columns found. The first line must name the columns."
        ) from None
    except (pd.errors.ParserError, ValueError, OverflowError) as exc:
        raise DatasetError(
            f"{name}: cannot be read as {what} ({error_detail(exc)}). "
            "Check for an unclosed quote, then export the file again."
        ) from None
    header = raw.iloc[0].tolist()
    check_duplicate_columns(header, name)
    frame = raw.iloc[1:].reset_index(drop=True)
    frame.columns = [f"Unnamed: {i}" if pd.isna(v) else v for i, v in enumerate(header)]
    skipped = [int(n) for w in caught for n in _SKIPPED_LINE.findall(str(w.message))]
    if skipped and frame.empty:
        raise DatasetError(
            f"{name}: every data line has more fields than the header ({len(header)} "
            "columns). Check the column separator or add the missing column names."
        )
    messages: list[str] = []
    if skipped:
        messages.append(
            f"{name}: skipped {len(skipped)} line(s) with more fields than the header "
            f"(file lines {_listed(skipped)}, header = line 1). Quote texts containing '{sep}'."
        )
    if sep != "," and suffix == ".csv":
        messages.append(f"{name}: read with '{sep}' as the column separator.")
    return ReadResult(frame, messages)


# ---------------------------------------------------------------- JSON


def _frame_from_records(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Keep JSON values as python objects: no int->float coercion when some are missing."""
    columns: dict[str, None] = {}
    for record in records:
        for key in record:
            columns.setdefault(str(key), None)
    data = {col: [r.get(col) for r in records] for col in columns}
    return pd.DataFrame({col: pd.Series(vals, dtype=object) for col, vals in data.items()})


def _read_jsonl(path: Path, name: str, suffix: str) -> ReadResult:
    text = _decode(path, name, "JSON lines")
    return _parse_jsonl(text, name)


def _parse_jsonl(text: str, name: str) -> ReadResult:
    records: list[dict[str, Any]] = []
    bad: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            bad.append(number)
            continue
        if isinstance(value, dict):
            records.append(value)
        else:
            bad.append(number)
    if not records:
        raise DatasetError(
            f"{name}: no line is a valid JSON object ({len(bad)} invalid line(s)). "
            'Each line must be one object like {"text": "...", "annotation": {...}}.'
        )
    messages = []
    if bad:
        messages.append(
            f"{name}: skipped {len(bad)} line(s) that are not valid JSON objects "
            f"(file lines {_listed(bad)})."
        )
    return ReadResult(_frame_from_records(records), messages)


def _read_json(path: Path, name: str, suffix: str) -> ReadResult:
    text = _decode(path, name, "JSON")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # one object per line saved as .json
            result = _parse_jsonl(text, name)
            result.warnings.insert(0, f"{name}: read as JSON lines (one object per line).")
            return result
        raise DatasetError(
            f"{name}: is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}). "
            "Fix the file or export it again."
        ) from None
    if not isinstance(value, list):
        kinds = {dict: "a JSON object", str: "a JSON string", bool: "a JSON true/false"}
        kind = kinds.get(type(value), "a JSON null" if value is None else "a JSON number")
        raise DatasetError(
            f"{name}: contains {kind}, not a list of records. Save it as a list "
            '[{"text": ...}, {"text": ...}] or as JSON lines (.jsonl).'
        )
    records = [item for item in value if isinstance(item, dict)]
    bad = [i for i, item in enumerate(value, start=1) if not isinstance(item, dict)]
    if not value:
        raise DatasetError(f"{name}: the list of records is empty. Add at least one record.")
    if not records:
        raise DatasetError(
            f"{name}: no item of the list is a JSON object. Each record must be an object "
            'like {"text": "...", "annotation": {...}}.'
        )
    messages = []
    if bad:
        messages.append(
            f"{name}: skipped {len(bad)} list item(s) that are not JSON objects "
            f"(items {_listed(bad)}, counted from 1)."
        )
    return ReadResult(_frame_from_records(records), messages)
