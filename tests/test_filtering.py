"""Rare-label filtering: global and per-language drops, recorded with their rows."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from factories import make_rows

from arena_core.data.dataset import normalise
from arena_core.data.demo import demo_options, demo_path
from arena_core.data.filtering import MAX_ROWS_LISTED, apply_min_examples
from arena_core.errors import DatasetError
from arena_core.session.manifest import DatasetOptions, FilterSettings, KeyInfo


def _dataset(annotations: list[dict], langs: list[str | None] | None = None):
    frame = pd.DataFrame(
        {
            "text": [f"text {i}" for i in range(len(annotations))],
            "ann": [json.dumps(a) for a in annotations],
            "lang": langs or [None] * len(annotations),
        }
    )
    return normalise(frame, DatasetOptions(annotation_col="ann", lang_col="lang"), "mem")


def test_rare_labels_dropped_with_their_rows():
    anns = [{"k": "a"}] * 3 + [{"k": "b"}] * 2 + [{"k": "c"}]
    result = apply_min_examples(_dataset(anns), 3, per_language=False)
    info = result.keys["k"]
    assert info.labels == ["a"]
    assert info.counts == {"a": 3, "b": 2, "c": 1}
    assert info.labels_by_language == {}
    assert [(d.label, d.count, d.rows, d.language) for d in result.dropped] == [
        ("b", 2, [3, 4], None),
        ("c", 1, [5], None),
    ]


def test_min_examples_one_keeps_everything():
    result = apply_min_examples(_dataset([{"k": "a"}, {"k": "b"}]), 1, per_language=False)
    assert result.keys["k"].labels == ["a", "b"] and result.dropped == []


def test_multi_valued_rows_count_for_every_label():
    anns = [{"m": ["x", "y"]}, {"m": ["x"]}, {"m": ["y", "z"]}, {"m": []}]
    result = apply_min_examples(_dataset(anns), 2, per_language=False)
    assert result.keys["m"].labels == ["x", "y"]
    assert result.keys["m"].multi_valued and result.keys["m"].empty_rows == 1
    assert [(d.label, d.rows) for d in result.dropped] == [("z", [2])]


def test_per_language_drops():
    anns = [{"k": "a"}] * 4 + [{"k": "b"}] * 3 + [{"k": "c"}]
    langs = ["EN", "EN", "FR", "FR", "EN", "EN", "FR", "EN"]
    result = apply_min_examples(_dataset(anns, langs), 2, per_language=True)
    info = result.keys["k"]
    assert info.labels == ["a", "b"]
    assert info.labels_by_language == {"EN": ["a", "b"], "FR": ["a"]}
    assert [(d.label, d.language, d.count, d.rows) for d in result.dropped] == [
        ("c", None, 1, [7]),
        ("b", "FR", 1, [6]),
    ]


def test_per_language_lists_every_language_even_when_empty():
    anns = [{"k": "a"}] * 2 + [{"k": "b"}] * 2 + [{"k": "a"}]
    langs = ["EN", "EN", "EN", "EN", "FR"]
    result = apply_min_examples(_dataset(anns, langs), 2, per_language=True)
    assert result.keys["k"].labels_by_language == {"EN": ["a", "b"], "FR": []}
    assert [(d.label, d.language) for d in result.dropped] == [("a", "FR")]


def test_rows_listed_are_capped():
    anns = [{"k": "a"}] * 120 + [{"k": "b"}] * 2
    result = apply_min_examples(_dataset(anns), 200, per_language=False)
    dropped_a = next(d for d in result.dropped if d.label == "a")
    assert dropped_a.count == 120 and dropped_a.rows == list(range(MAX_ROWS_LISTED))


def test_filtering_is_deterministic_and_pure():
    frame = pd.DataFrame(make_rows(300, seed=7, languages=("EN", "FR", "DE")))
    ds = normalise(frame, DatasetOptions(annotation_col="annotation", lang_col="lang"), "mem")
    before = ds.table.copy(deep=True)
    first = apply_min_examples(ds, 40, per_language=True)
    second = apply_min_examples(ds, 40, per_language=True)
    assert first == second
    pd.testing.assert_frame_equal(ds.table, before)
    assert FilterSettings(min_examples=40, dropped=first.dropped).dropped == first.dropped
    assert all(isinstance(v, KeyInfo) for v in first.keys.values())


def test_demo_keeps_all_labels_per_language():
    frame = pd.read_csv(demo_path(), dtype=str)
    ds = normalise(frame, demo_options(), "demo")
    result = apply_min_examples(ds, 5, per_language=True)
    assert result.dropped == []
    assert result.keys["themes"].labels_by_language["FR"] == [
        "economy",
        "environment",
        "health",
        "sports",
    ]


def test_invalid_min_examples():
    with pytest.raises(DatasetError, match="at least 1"):
        apply_min_examples(_dataset([{"k": "a"}]), 0, per_language=False)
