"""Reading every format, both layouts, label conversion, languages and column guessing."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from factories import FORMATS, make_rows, write_dataset

from arena_core.data.columns import guess_columns
from arena_core.data.dataset import (
    ID,
    LANGUAGE,
    ROW,
    TEXT,
    dataset_summary,
    label_column,
    load_dataset,
    normalise,
)
from arena_core.data.demo import demo_options, demo_path, generate_rows
from arena_core.data.readers import read_table
from arena_core.session.manifest import DatasetOptions

ANN = DatasetOptions(text_col="text", annotation_col="annotation", lang_col="lang")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_to_the_same_table(tmp_path, fmt):
    rows = make_rows(12, seed=3)
    ds = load_dataset(write_dataset(tmp_path, fmt, rows), ANN)
    assert ds.table[ROW].tolist() == list(range(12))
    assert ds.table[TEXT].tolist() == [r["text"] for r in rows]
    assert ds.table[LANGUAGE].tolist() == [r["lang"] for r in rows]
    expected = [json.loads(r["annotation"])["themes"] for r in rows]
    assert ds.table[label_column("themes")].tolist() == expected
    assert list(ds.keys) == ["sentiment", "themes"]
    assert ds.warnings == []


def test_source_name_decides_the_format(tmp_path):
    path = write_dataset(tmp_path, "jsonl", make_rows(4))
    upload = path.rename(tmp_path / "upload-7f3a.tmp")
    ds = load_dataset(upload, ANN, source_name="mine.jsonl")
    assert ds.n_rows == 4 and ds.source_name == "mine.jsonl"


def test_both_layouts_normalise_to_the_same_table(tmp_path):
    rows = make_rows(20, seed=1)
    by_json = load_dataset(write_dataset(tmp_path, "csv", rows, "a"), ANN)
    flat = []
    for r in rows:
        ann = json.loads(r["annotation"])
        flat.append(
            {
                "text": r["text"],
                "lang": r["lang"],
                "sentiment": ann["sentiment"],
                "themes": ";".join(ann["themes"]),
            }
        )
    cols = DatasetOptions(
        text_col="text", layout="label-columns", label_cols=["sentiment", "themes"], lang_col="lang"
    )
    by_cols = load_dataset(write_dataset(tmp_path, "csv", flat, "b"), cols)
    pd.testing.assert_frame_equal(by_json.table, by_cols.table)
    assert by_json.keys == by_cols.keys


def test_label_cells_accept_json_lists_and_separators():
    frame = pd.DataFrame(
        {"text": ["a", "b", "c", "d"], "tags": ['["x", "y"]', "x | z", None, " y "]}
    )
    opts = DatasetOptions(layout="label-columns", label_cols=["tags"], separator="|")
    ds = normalise(frame, opts, "mem")
    assert ds.labels("tags").tolist() == [["x", "y"], ["x", "z"], [], ["y"]]
    assert ds.keys["tags"].counts == {"x": 2, "y": 2, "z": 1}
    assert ds.keys["tags"].empty_rows == 1


def test_numeric_and_boolean_labels_become_text():
    frame = pd.DataFrame(
        {
            "text": ["a", "b", "c", "d"],
            "annotation": [
                {"stars": 1, "ok": True},
                {"stars": 2.0, "ok": False},
                '{"stars": [3, 1], "ok": null}',
                '{"stars": "", "ok": "true"}',
            ],
        }
    )
    ds = normalise(frame, DatasetOptions(annotation_col="annotation"), "mem")
    assert ds.labels("stars").tolist() == [["1"], ["2"], ["3", "1"], []]
    assert ds.labels("ok").tolist() == [["true"], ["false"], [], ["true"]]
    assert ds.keys["stars"].counts == {"1": 2, "2": 1, "3": 1}


def test_multi_valued_detection_and_stats():
    frame = pd.DataFrame(
        {
            "text": ["a", "b", "c"],
            "ann": ['{"k": "x", "m": ["p"]}', '{"k": "y", "m": ["p", "q"]}', '{"k": "x"}'],
        }
    )
    ds = normalise(frame, DatasetOptions(annotation_col="ann"), "mem")
    assert not ds.keys["k"].multi_valued and ds.keys["m"].multi_valued
    assert ds.keys["m"].empty_rows == 1 and ds.keys["m"].n_values == 2
    assert list(ds.keys["k"].counts) == ["x", "y"]


def test_keys_in_first_seen_order_and_union():
    frame = pd.DataFrame(
        {"text": ["a", "b"], "ann": ['{"z": "1", "a": "2"}', '{"b": "3", "z": "4"}']}
    )
    ds = normalise(frame, DatasetOptions(annotation_col="ann"), "mem")
    assert list(ds.keys) == ["z", "a", "b"]
    assert ds.labels("b").tolist() == [[], ["3"]]


def test_language_and_id_columns():
    frame = pd.DataFrame(
        {
            "text": ["a", "b", "c"],
            "ann": ['{"k": "x"}', '{"k": "y"}', '{"k": "x"}'],
            "lang": [" en", "Fr", None],
            "doc": ["d1", None, "d3"],
        }
    )
    opts = DatasetOptions(annotation_col="ann", lang_col="lang", id_col="doc")
    ds = normalise(frame, opts, "mem")
    assert ds.table[LANGUAGE].tolist() == ["EN", "FR", None]
    assert ds.table[ID].tolist() == ["d1", None, "d3"]
    assert ds.languages == {"EN": 1, "FR": 1}
    assert any("1 row(s) have no language" in w for w in ds.warnings)


def test_language_detection_with_lingua():
    texts = [
        "The government announced new measures for the economy this morning.",
        "Le gouvernement a annoncé de nouvelles mesures pour l'économie ce matin.",
        "The hospital is looking for more nurses and doctors.",
        "L'hôpital cherche davantage d'infirmières et de médecins.",
    ]
    frame = pd.DataFrame({"text": texts, "ann": ['{"k": "a"}', '{"k": "b"}'] * 2})
    ds = normalise(frame, DatasetOptions(annotation_col="ann", detect_language=True), "mem")
    assert ds.table[LANGUAGE].tolist() == ["EN", "FR", "EN", "FR"]
    assert ds.languages == {"EN": 2, "FR": 2}


def test_no_detection_without_flag_or_with_column():
    frame = pd.DataFrame({"text": ["Hello there my friend"], "ann": ['{"k": "a"}'], "l": ["de"]})
    assert normalise(frame, DatasetOptions(annotation_col="ann"), "m").table[LANGUAGE].tolist() == [
        None
    ]
    opts = DatasetOptions(annotation_col="ann", lang_col="l", detect_language=True)
    assert normalise(frame, opts, "m").table[LANGUAGE].tolist() == ["DE"]


def test_guess_columns_on_the_demo_file():
    guess = guess_columns(read_table(demo_path()).frame)
    assert (guess.text_col, guess.annotation_col, guess.lang_col) == ("text", "annotation", "lang")
    assert guess.layout == "annotation-json"
    assert guess.to_options() == demo_options()


def test_guess_columns_label_layout():
    frame = pd.DataFrame(
        {
            "doc_id": [str(i) for i in range(40)],
            "body": [f"a fairly long sentence number {i} about something" for i in range(40)],
            "topic": ["a", "b", "c", "d"] * 10,
            "Language": ["EN", "FR"] * 20,
        }
    )
    guess = guess_columns(frame)
    assert guess.text_col == "body" and guess.id_col == "doc_id" and guess.lang_col == "Language"
    assert guess.label_cols == ["topic"] and guess.layout == "label-columns"
    assert guess.annotation_col is None


def test_demo_is_balanced_deterministic_and_committed():
    ds = load_dataset(demo_path(), demo_options())
    assert ds.n_rows == 240 and ds.languages == {"EN": 120, "FR": 120}
    assert set(ds.keys["sentiment"].counts) == {"positive", "negative", "neutral"}
    assert set(ds.keys["themes"].counts) == {"economy", "health", "environment", "sports"}
    assert ds.keys["themes"].multi_valued and not ds.keys["sentiment"].multi_valued
    assert generate_rows() == generate_rows()
    committed = read_table(demo_path()).frame
    assert committed["text"].tolist() == [r["text"] for r in generate_rows()]


def test_summary_is_json_friendly(tmp_path):
    ds = load_dataset(write_dataset(tmp_path, "csv", make_rows(10)), ANN)
    summary = json.loads(json.dumps(dataset_summary(ds)))
    assert summary["n_rows"] == 10
    assert summary["keys"]["themes"]["multi_valued"] is True
    assert summary["languages"] == {"EN": 5, "FR": 5}
    assert summary["options"]["annotation_col"] == "annotation"
