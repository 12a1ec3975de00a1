"""Compare page (AppTest under real navigation): picks, curves, metrics, settings diff."""

from __future__ import annotations

import json

from apptest_support import nav_app
from factories import KINDS, make_relaunch_pair, make_session

from ui.common import COMPARE_SESSIONS

PAGE = "compare"


def frame_with(at, column):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_fewer_than_two_sessions_is_an_empty_state(store, tmp_path):
    at = nav_app(tmp_path, PAGE).run()
    assert not at.exception and "at least two sessions" in at.info[0].value
    make_session(store, "completed")
    at = nav_app(tmp_path, PAGE).run()
    assert not at.exception and "at least two sessions" in at.info[0].value


def test_every_kind_renders_when_picked(store, tmp_path):
    ids = [make_session(store, kind) for kind in KINDS]
    readable = [i for i in ids if store.summary(i).error is None]
    at = nav_app(tmp_path, PAGE)
    at.session_state[COMPARE_SESSIONS] = ids  # the unreadable one is left out
    at.run()
    assert not at.exception
    assert at.multiselect(key="cmp_sessions").value == readable


def test_relaunch_pair_diff_shows_only_the_learning_rate(store, tmp_path):
    parent, child = make_relaunch_pair(store, learning_rate=2e-4)
    make_session(store, "completed", "unrelated")
    at = nav_app(tmp_path, PAGE)
    at.session_state[COMPARE_SESSIONS] = [parent, child]
    at.run()
    assert not at.exception
    assert at.multiselect(key="cmp_sessions").value == [parent, child]
    diff = frame_with(at, "field")
    assert list(diff["field"]) == ["training.learning_rate"]
    assert list(diff.columns) == ["field", parent, child]
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert titles == ["Loss", "Validation macro-F1"]
    metrics = frame_with(at, f"Δ {child}")
    assert set(metrics["key"]) == {"sentiment", "themes"}
    at.radio(key="cmp_level").set_value("label").run()
    assert "neutral" in set(frame_with(at, f"Δ {child}")["label"])
    assert not at.warning  # same label sets


def test_quick_pick_selects_parent_and_children(store, tmp_path):
    parent, child = make_relaunch_pair(store)
    other = make_session(store, "completed", "other")
    at = nav_app(tmp_path, PAGE)
    at.session_state[COMPARE_SESSIONS] = [other, child]
    at.run()
    at.selectbox(key="cmp_family").set_value(parent).run()
    assert not at.exception
    assert at.multiselect(key="cmp_sessions").value == [parent, child]


def test_different_label_sets_are_warned(store, tmp_path):
    parent, child = make_relaunch_pair(store)
    store.update(child, lambda m: m.keys["sentiment"].labels.remove("neutral"))
    at = nav_app(tmp_path, PAGE)
    at.session_state[COMPARE_SESSIONS] = [parent, child]
    at.run()
    assert not at.exception
    assert any("sentiment" in w.value and "neutral" in w.value for w in at.warning)
