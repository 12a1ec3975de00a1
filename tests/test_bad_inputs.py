"""A corpus of malformed and hostile inputs: each gives one clear DatasetError or a correct table.

``BAD_INPUTS`` is importable (``from test_bad_inputs import BAD_INPUTS``) so the CLI and the
Dataset page tests can replay the same corpus through their own front ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from factories import make_rows, write_bytes, write_dataset, write_text

from arena_core.data.dataset import (
    ID,
    LANGUAGE,
    ROW,
    TEXT,
    NormalisedDataset,
    label_column,
    load_dataset,
)
from arena_core.data.filtering import apply_min_examples
from arena_core.errors import DatasetError
from arena_core.session.manifest import DatasetOptions

ANN = DatasetOptions(text_col="text", annotation_col="annotation")
ANN_LANG = DatasetOptions(text_col="text", annotation_col="annotation", lang_col="lang")


@dataclass(frozen=True)
class BadInput:
    """One hostile input: how to write it, how to read it, and what must happen."""

    name: str
    write: Callable[[Path], Path]
    options: DatasetOptions = field(default_factory=ANN.model_copy)
    expect_error: str | None = None  # a phrase of the DatasetError message
    check: Callable[[NormalisedDataset], None] | None = None  # asserts on a good result
    source_name: str | None = None  # the upload's original name, when the path is a temp name


def csv_text(body: str, name: str = "data.csv", encoding: str = "utf-8") -> Callable[[Path], Path]:
    return lambda tmp: write_text(tmp, name, body, encoding)


def raw(data: bytes, name: str) -> Callable[[Path], Path]:
    return lambda tmp: write_bytes(tmp, name, data)


def frame_file(frame_fn: Callable[[], pd.DataFrame], fmt: str) -> Callable[[Path], Path]:
    def write(tmp: Path) -> Path:
        return write_dataset(tmp, fmt, frame_fn().to_dict("records"))

    return write


def ann_rows(annotations: list, texts: list[str] | None = None) -> Callable[[Path], Path]:
    """A CSV with text + annotation columns; dict annotations are JSON-encoded."""

    def write(tmp: Path) -> Path:
        cells = [json.dumps(a) if isinstance(a, dict) else a for a in annotations]
        body = texts or [f"sentence {i}" for i in range(len(cells))]
        return write_dataset(
            tmp, "csv", [{"text": t, "annotation": c} for t, c in zip(body, cells, strict=True)]
        )

    return write


def warned(phrase: str) -> Callable[[NormalisedDataset], None]:
    def check(ds: NormalisedDataset) -> None:
        assert any(phrase in w for w in ds.warnings), ds.warnings

    return check


def holds(
    predicate: Callable[[NormalisedDataset], object], what: str
) -> Callable[[NormalisedDataset], None]:
    def check(ds: NormalisedDataset) -> None:
        assert predicate(ds), what

    return check


def all_of(*checks: Callable[[NormalisedDataset], None]) -> Callable[[NormalisedDataset], None]:
    def check(ds: NormalisedDataset) -> None:
        for c in checks:
            c(ds)

    return check


def rows_are(n: int) -> Callable[[NormalisedDataset], None]:
    def check(ds: NormalisedDataset) -> None:
        assert ds.n_rows == n

    return check


def texts_are(texts: list[str]) -> Callable[[NormalisedDataset], None]:
    def check(ds: NormalisedDataset) -> None:
        assert ds.table[TEXT].tolist() == texts

    return check


def labels_are(key: str, labels: list[list[str]]) -> Callable[[NormalisedDataset], None]:
    def check(ds: NormalisedDataset) -> None:
        assert ds.labels(key).tolist() == labels

    return check


# ---------------------------------------------------------------- writers needing more than a line

GOOD = "text,annotation\n" + "".join(
    f'sentence {i},"{{""k"": ""{"ab"[i % 2]}""}}"\n' for i in range(6)
)


def jsonl_lines(lines: list[str]) -> Callable[[Path], Path]:
    return csv_text("\n".join(lines) + "\n", "data.jsonl")


GOOD_LINE = '{"text": "hello", "annotation": {"k": "a"}}'
GOOD_LINE_B = '{"text": "bye", "annotation": {"k": "b"}}'


def five_mb_cell(tmp: Path) -> Path:
    big = "word " * 1_000_000
    return write_dataset(
        tmp,
        "csv",
        [{"text": big, "annotation": '{"k": "a"}'}, {"text": "x", "annotation": '{"k": "b"}'}],
    )


def many_rows(tmp: Path) -> Path:
    lines = ["text,annotation\n"]
    lines += [f't{i},"{{""k"": ""{"abc"[i % 3]}""}}"\n' for i in range(200_000)]
    return write_text(tmp, "big.csv", "".join(lines))


def csv_as_xlsx(tmp: Path) -> Path:
    return write_text(tmp, "data.xlsx", GOOD)


def xlsx_dup_columns(tmp: Path) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["text", "annotation", "text"])
    ws.append(["a", '{"k": "a"}', "b"])
    path = tmp / "dup.xlsx"
    wb.save(path)
    return path


def xlsx_two_sheets(tmp: Path) -> Path:
    path = tmp / "two.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame(make_rows(6)).to_excel(writer, sheet_name="data", index=False)
        pd.DataFrame({"notes": ["x"]}).to_excel(writer, sheet_name="notes", index=False)
    return path


def xlsx_header_only(tmp: Path) -> Path:
    path = tmp / "header.xlsx"
    pd.DataFrame(columns=["text", "annotation"]).to_excel(path, index=False)
    return path


def xlsx_numbers(tmp: Path) -> Path:
    path = tmp / "numbers.xlsx"
    pd.DataFrame({"text": ["one", "two", "three"], "stars": [1, 2, 1]}).to_excel(path, index=False)
    return path


def parquet_nested(tmp: Path) -> Path:
    table = pa.table(
        {
            "text": ["a", "b", "c"],
            "annotation": pa.array(
                [
                    {"sentiment": "positive", "themes": ["economy", "health"]},
                    {"sentiment": "negative", "themes": []},
                    {"sentiment": "positive", "themes": None},
                ]
            ),
            "scores": pa.array([[1, 2], [], None], type=pa.list_(pa.int64())),
            "meta": pa.array([{"src": "x"}, {"src": "y"}, None]),
        }
    )
    path = tmp / "nested.parquet"
    pq.write_table(table, path)
    return path


def parquet_list_labels(tmp: Path) -> Path:
    table = pa.table(
        {
            "text": ["a", "b", "c"],
            "themes": pa.array([["x", "y"], [], ["y"]], type=pa.list_(pa.string())),
            "stars": pa.array([1, None, 3], type=pa.int64()),
        }
    )
    path = tmp / "labels.parquet"
    pq.write_table(table, path)
    return path


def parquet_dup_columns(tmp: Path) -> Path:
    table = pa.Table.from_arrays(
        [pa.array(["a"]), pa.array(['{"k": "a"}']), pa.array(["b"])],
        names=["text", "annotation", "text"],
    )
    path = tmp / "dup.parquet"
    pq.write_table(table, path)
    return path


def wide_header(tmp: Path) -> Path:
    extra = {f"column_{i}_" + "x" * 40: str(i) for i in range(2000)}
    rows = [
        {"text": "hello", "annotation": '{"k": "a"}', **extra},
        {"text": "bye", "annotation": '{"k": "b"}', **extra},
    ]
    return write_dataset(tmp, "csv", rows)


def temp_upload(tmp: Path) -> Path:
    return write_text(tmp, "upload_8f2c1d", GOOD)


def folder(tmp: Path) -> Path:
    path = tmp / "folder.csv"
    path.mkdir()
    return path


LABEL_COLS = DatasetOptions(text_col="text", layout="label-columns", label_cols=["stars"])

BAD_INPUTS: list[BadInput] = [
    # -- files that cannot be read at all
    BadInput("missing_file", lambda tmp: tmp / "nope.csv", expect_error="does not exist"),
    BadInput("folder", folder, expect_error="is a folder"),
    BadInput(
        "unsupported_extension", csv_text(GOOD, "data.txt"), expect_error="not a supported format"
    ),
    BadInput("no_extension", csv_text(GOOD, "data"), expect_error="(no extension)"),
    BadInput("empty_file", raw(b"", "data.csv"), expect_error="is empty (0 bytes)"),
    BadInput("blank_lines_only", csv_text("\n \n\n"), expect_error="only blank lines"),
    BadInput("header_only_csv", csv_text("text,annotation\n"), expect_error="no data rows"),
    BadInput("header_only_xlsx", xlsx_header_only, expect_error="no data rows"),
    BadInput("binary_garbage", raw(bytes(range(256)) * 64, "data.csv"), expect_error="binary file"),
    BadInput("pdf_named_csv", raw(b"%PDF-1.4\n" + bytes(200), "data.csv"), expect_error="PDF"),
    BadInput(
        "latin1_bytes",
        csv_text(GOOD + 'café,"{""k"": ""a""}"\n', encoding="latin-1"),
        expect_error="is not UTF-8 text",
    ),
    BadInput(
        "utf16_without_bom", csv_text(GOOD, encoding="utf-16-le"), expect_error="save it as UTF-8"
    ),
    BadInput(
        "unclosed_quote",
        csv_text('text,annotation\n"oops,{}\nx,y\n'),
        expect_error="unclosed quote",
    ),
    BadInput(
        "json_object_not_list",
        csv_text('{"text": "a", "annotation": {"k": "a"}}', "data.json"),
        expect_error="not a list of records",
    ),
    BadInput(
        "json_scalar",
        csv_text("42", "data.json"),
        expect_error="contains a JSON number, not a list of records",
    ),
    BadInput(
        "json_broken", csv_text('[{"text": "a",', "data.json"), expect_error="is not valid JSON"
    ),
    BadInput(
        "json_empty_list", csv_text("[]", "data.json"), expect_error="list of records is empty"
    ),
    BadInput(
        "json_list_of_non_objects",
        csv_text("[1, 2, [3]]", "data.json"),
        expect_error="no item of the list is a JSON object",
    ),
    BadInput(
        "jsonl_all_broken",
        jsonl_lines(
            ["{oops", "not json", '{"a": '],
        ),
        expect_error="no line is a valid JSON object",
    ),
    BadInput(
        "jsonl_only_non_objects",
        jsonl_lines(["1", "[1, 2]", '"text"', "null"]),
        expect_error="no line is a valid JSON object",
    ),
    BadInput("xlsx_really_csv", csv_as_xlsx, expect_error="looks like CSV"),
    BadInput(
        "xlsx_really_xls",
        raw(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "data.xlsx"),
        expect_error="old .xls",
    ),
    BadInput(
        "xlsx_damaged_zip", raw(b"PK\x03\x04" + b"garbage" * 50, "data.xlsx"), expect_error="Excel"
    ),
    BadInput(
        "parquet_really_csv", csv_text(GOOD, "data.parquet"), expect_error="not a Parquet file"
    ),
    BadInput(
        "parquet_truncated",
        raw(b"PAR1" + b"\x00" * 64 + b"PAR1", "data.parquet"),
        expect_error="not a readable Parquet file",
    ),
    BadInput(
        "duplicate_columns_csv",
        csv_text('text,annotation,text\na,"{""k"": ""a""}",b\n'),
        expect_error="duplicate column names 'text'",
    ),
    BadInput(
        "duplicate_columns_xlsx", xlsx_dup_columns, expect_error="duplicate column names 'text'"
    ),
    BadInput(
        "duplicate_columns_parquet",
        parquet_dup_columns,
        expect_error="duplicate column names 'text'",
    ),
    # -- readable files whose columns or annotations do not fit
    BadInput(
        "missing_text_column",
        csv_text(GOOD),
        DatasetOptions(text_col="content", annotation_col="annotation"),
        expect_error="text column 'content' is not in the file",
    ),
    BadInput(
        "missing_annotation_column",
        csv_text(GOOD),
        DatasetOptions(annotation_col="labels"),
        expect_error="annotation column 'labels' is not in the file",
    ),
    BadInput(
        "no_annotation_column_chosen",
        csv_text(GOOD),
        DatasetOptions(),
        expect_error="no annotation column chosen",
    ),
    BadInput(
        "missing_language_column",
        csv_text(GOOD),
        ANN_LANG,
        expect_error="language column 'lang' is not in the file",
    ),
    BadInput(
        "no_label_columns_chosen",
        csv_text(GOOD),
        DatasetOptions(layout="label-columns"),
        expect_error="no label columns chosen",
    ),
    BadInput(
        "annotation_all_invalid",
        ann_rows(["{oops", "[1, 2]", "positive", '"k"']),
        expect_error="no row of column 'annotation' holds a valid JSON object",
    ),
    BadInput(
        "annotation_objects_all_empty",
        ann_rows(["{}", "{}"]),
        expect_error="no annotation keys found",
    ),
    BadInput(
        "annotation_nested_object",
        ann_rows([{"k": "a", "meta": {"x": 1}}]),
        expect_error="key 'meta' holds a nested object at data row 1",
    ),
    BadInput(
        "nan_everywhere", csv_text("text,annotation\n,\n,\n , \n"), expect_error="no rows with text"
    ),
    # -- hostile but valid: read with warnings or exactly as written
    BadInput(
        "utf16_with_bom",
        csv_text(GOOD + 'café ☕,"{""k"": ""b""}"\n', encoding="utf-16"),
        check=all_of(
            rows_are(7), holds(lambda ds: ds.table[TEXT].iloc[-1] == "café ☕", "utf-16 text")
        ),
    ),
    BadInput("utf8_bom", csv_text(GOOD, encoding="utf-8-sig"), check=rows_are(6)),
    BadInput(
        "crlf_line_endings",
        csv_text(GOOD.replace("\n", "\r\n")),
        check=all_of(rows_are(6), labels_are("k", [["a"], ["b"]] * 3)),
    ),
    BadInput(
        "semicolon_csv",
        csv_text('text;annotation\nhello;"{""k"": ""a""}"\nbye;"{""k"": ""b""}"\n'),
        check=all_of(rows_are(2), warned("';' as the column separator")),
    ),
    BadInput("upload_temp_name", temp_upload, check=rows_are(6), source_name="annotations.csv"),
    BadInput(
        "jsonl_some_broken",
        jsonl_lines([GOOD_LINE, GOOD_LINE_B, "{broken", GOOD_LINE, "", "[1]", GOOD_LINE_B]),
        check=all_of(rows_are(4), warned("skipped 2 line(s)"), warned("file lines 3, 6")),
    ),
    BadInput(
        "json_lines_saved_as_json",
        csv_text(GOOD_LINE + "\n" + GOOD_LINE_B + "\n", "data.json"),
        check=all_of(rows_are(2), warned("read as JSON lines")),
    ),
    BadInput(
        "json_list_some_non_objects",
        csv_text(f"[{GOOD_LINE}, 3, {GOOD_LINE_B}]", "data.json"),
        check=all_of(rows_are(2), warned("items 2")),
    ),
    BadInput(
        "annotation_some_invalid",
        ann_rows([{"k": "a"}, "{oops", {"k": "b"}, "not json", {"k": "a"}]),
        check=all_of(
            rows_are(3),
            warned(
                "skipped 2 row(s) whose 'annotation' is not a valid JSON object (rows 2, 4; data rows counted from 1"
            ),
        ),
    ),
    BadInput(
        "annotation_some_empty",
        ann_rows([{"k": "a"}, "", {"k": "b"}]),
        check=all_of(rows_are(2), warned("skipped 1 row(s) with an empty 'annotation'")),
    ),
    BadInput(
        "annotation_python_repr",
        ann_rows(["{'k': 'a', 'm': ['x', 'y']}", "{'k': 'b', 'm': []}"]),
        check=labels_are("m", [["x", "y"], []]),
    ),
    BadInput(
        "annotation_double_encoded",
        ann_rows([json.dumps(json.dumps({"k": "a"})), json.dumps(json.dumps({"k": "b"}))]),
        check=labels_are("k", [["a"], ["b"]]),
    ),
    BadInput(
        "single_value_key",
        ann_rows([{"k": "a", "domain": "news"}, {"k": "b", "domain": "news"}]),
        check=all_of(
            warned("key 'domain' has only one value ('news')"),
            holds(lambda ds: ds.keys["domain"].warnings, "no key warning"),
        ),
    ),
    BadInput(
        "key_without_values",
        ann_rows([{"k": "a", "x": None}, {"k": "b", "x": []}]),
        check=all_of(
            warned("key 'x' has no value in any row"),
            holds(lambda ds: ds.keys["x"].empty_rows == 2, "empty rows"),
        ),
    ),
    BadInput(
        "label_with_one_example",
        ann_rows([{"k": "a"}, {"k": "a"}, {"k": "rare"}]),
        check=holds(lambda ds: ds.keys["k"].counts == {"a": 2, "rare": 1}, "counts"),
    ),
    BadInput(
        "numeric_labels_json",
        ann_rows([{"stars": 1}, {"stars": 2.0}, {"stars": [3, True]}]),
        check=labels_are("stars", [["1"], ["2"], ["3", "true"]]),
    ),
    BadInput(
        "numeric_labels_columns",
        csv_text("text,stars\na,1\nb,2\nc,\nd,01\n"),
        LABEL_COLS,
        check=labels_are("stars", [["1"], ["2"], [], ["01"]]),
    ),
    BadInput(
        "numeric_labels_xlsx",
        xlsx_numbers,
        LABEL_COLS,
        check=labels_are("stars", [["1"], ["2"], ["1"]]),
    ),
    BadInput(
        "five_mb_cell",
        five_mb_cell,
        check=holds(lambda ds: len(ds.table[TEXT].iloc[0]) == 5_000_000 - 1, "size"),
    ),
    BadInput(
        "rows_200k",
        many_rows,
        check=all_of(
            rows_are(200_000),
            holds(lambda ds: ds.keys["k"].counts == {"a": 66667, "b": 66667, "c": 66666}, "counts"),
        ),
    ),
    BadInput(
        "formula_text",
        csv_text(
            'text,annotation\n=SUM(A1),"{""k"": ""a""}"\n+cmd|calc,"{""k"": ""b""}"\n@x,"{""k"": ""a""}"\n-1,"{""k"": ""b""}"\n'
        ),
        check=texts_are(["=SUM(A1)", "+cmd|calc", "@x", "-1"]),
    ),
    BadInput(
        "nan_like_labels_kept",
        csv_text("text,stars\na,None\nb,NA\nc,null\n"),
        LABEL_COLS,
        check=labels_are("stars", [["None"], ["NA"], ["null"]]),
    ),
    BadInput(
        "emoji_and_rtl",
        ann_rows([{"k": "😀"}, {"k": "שלום"}], ["مرحبا بالعالم 🌍", "  שלום 👋🏽 עולם  "]),
        check=all_of(
            texts_are(["مرحبا بالعالم 🌍", "שלום 👋🏽 עולם"]), labels_are("k", [["😀"], ["שלום"]])
        ),
    ),
    BadInput(
        "whitespace_only_texts",
        ann_rows([{"k": "a"}, {"k": "b"}, {"k": "a"}, {"k": "b"}], ["ok", "   ", "\t\n", "fine"]),
        check=all_of(
            texts_are(["ok", "fine"]),
            warned("skipped 2 row(s) with an empty text"),
            holds(lambda ds: ds.table[ROW].tolist() == [0, 3], "rows"),
        ),
    ),
    BadInput("very_long_header", wide_header, check=rows_are(2)),
    BadInput(
        "ragged_rows",
        csv_text(GOOD + 'extra,"{""k"": ""a""}",surplus,fields\nshort\n'),
        check=all_of(
            rows_are(6),
            warned("skipped 1 line(s) with more fields"),
            warned("file lines 8"),
            warned("empty 'annotation'"),
        ),
    ),
    BadInput(
        "ragged_first_row_one_extra_field",
        csv_text(
            'text,annotation\nhello, world,"{""k"": ""a""}"\nok,"{""k"": ""b""}"\nfine,"{""k"": ""a""}"\n'
        ),
        check=all_of(texts_are(["ok", "fine"]), warned("file lines 2")),
    ),
    BadInput(
        "all_rows_ragged",
        csv_text("text\na,b\nc,d\n"),
        expect_error="every data line has more fields than the header",
    ),
    BadInput(
        "tsv",
        csv_text('text\tannotation\nhello\t{"k": "a"}\nbye\t{"k": "b"}\n', "data.tsv"),
        check=labels_are("k", [["a"], ["b"]]),
    ),
    BadInput(
        "nested_parquet_types",
        parquet_nested,
        check=all_of(
            labels_are("themes", [["economy", "health"], [], []]),
            labels_are("sentiment", [["positive"], ["negative"], ["positive"]]),
        ),
    ),
    BadInput(
        "parquet_list_label_column",
        parquet_list_labels,
        DatasetOptions(layout="label-columns", label_cols=["themes", "stars"]),
        check=all_of(
            labels_are("themes", [["x", "y"], [], ["y"]]), labels_are("stars", [["1"], [], ["3"]])
        ),
    ),
    BadInput(
        "xlsx_two_sheets",
        xlsx_two_sheets,
        ANN_LANG,
        check=all_of(rows_are(6), warned("first sheet 'data'")),
    ),
    BadInput(
        "duplicate_ids",
        lambda tmp: write_text(
            tmp, "ids.csv", 'id,text,annotation\n1,a,"{""k"": ""a""}"\n1,b,"{""k"": ""b""}"\n'
        ),
        DatasetOptions(annotation_col="annotation", id_col="id"),
        check=all_of(
            warned("appear more than once"),
            holds(lambda ds: ds.table[ID].tolist() == ["1", "1"], "ids"),
        ),
    ),
    BadInput(
        "language_missing_in_some_rows",
        lambda tmp: write_text(
            tmp, "l.csv", 'text,annotation,lang\na,"{""k"": ""a""}",en\nb,"{""k"": ""b""}",\n'
        ),
        ANN_LANG,
        check=all_of(
            warned("1 row(s) have no language"),
            holds(lambda ds: ds.table[LANGUAGE].tolist() == ["EN", None], "langs"),
        ),
    ),
]


def _invariants(ds: NormalisedDataset) -> None:
    """What every normalised table guarantees, whatever the input."""
    table = ds.table
    assert list(table.columns[:4]) == [ROW, TEXT, LANGUAGE, ID]
    assert table[ROW].is_monotonic_increasing and table[ROW].dtype == "int64"
    assert all(isinstance(t, str) and t and t == t.strip() for t in table[TEXT])
    for key in ds.keys:
        for labels in table[label_column(key)]:
            assert isinstance(labels, list) and all(isinstance(v, str) and v for v in labels)
    apply_min_examples(ds, 2, per_language=True)  # filtering never breaks on what loads


def test_corpus_is_large_and_unique():
    names = [case.name for case in BAD_INPUTS]
    assert len(names) >= 30 and len(set(names)) == len(names)


@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda case: case.name)
def test_bad_input(tmp_path: Path, case: BadInput) -> None:
    path = case.write(tmp_path)
    source = case.source_name or path.name
    if case.expect_error is not None:
        with pytest.raises(DatasetError) as info:
            load_dataset(path, case.options, source_name=case.source_name)
        message = str(info.value)
        assert case.expect_error in message
        assert source in message, "the message must name the file"
        assert "\n" not in message, "one clear message"
    else:
        ds = load_dataset(path, case.options, source_name=case.source_name)
        _invariants(ds)
        assert case.check is not None
        case.check(ds)
