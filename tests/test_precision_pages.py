"""The Precision field on the Strategy page and in the relaunch form (AppTest)."""

from __future__ import annotations

import contextlib

import pytest
from apptest_support import demo_state, nav_app, page_test, texts_of
from factories import make_session
from test_page_sessions import select

from arena_core.errors import ArenaError
from arena_core.run import control
from arena_core.store.session_store import SessionStore
from arena_core.training import precision
from arena_core.training.precision import FP16_NEEDS_CUDA, Hardware
from ui.common import STRATEGY


@pytest.fixture
def no_cuda(monkeypatch):
    """No GPU here, whatever the test machine has (the pages run in this process)."""
    monkeypatch.setattr(precision, "hardware", lambda: Hardware(False, False, True))


def cancel_all(store: SessionStore, ids) -> None:
    for session_id in ids:
        with contextlib.suppress(ArenaError):
            control.cancel(store, session_id, grace=3)


def test_strategy_precision_defaults_to_auto_and_says_what_auto_does(home, no_cuda):
    at = page_test(STRATEGY, demo_state())
    field = at.selectbox(key="st_precision")
    assert not at.exception
    assert field.value == "auto" and field.options == ["auto", "fp32", "bf16", "fp16"]
    assert precision.auto_summary() in field.help
    field.set_value("fp16").run()
    assert FP16_NEEDS_CUDA in texts_of(at, "error")
    assert at.button(key="st_launch").disabled
    at.selectbox(key="st_precision").set_value("fp32").run()
    assert not any("fp16" in e for e in texts_of(at, "error"))
    assert not at.button(key="st_launch").disabled


def test_strategy_launches_with_the_chosen_precision(home, store: SessionStore):
    at = page_test(STRATEGY, demo_state())
    at.radio(key="st_model").set_value("tiny").run()
    at.selectbox(key="st_precision").set_value("bf16").run()
    at.button(key="st_launch").click().run()
    try:
        assert not at.exception
        [summary] = store.list()
        assert store.load(summary.id).training.precision == "bf16"
    finally:
        cancel_all(store, [s.id for s in store.list()])


def test_relaunch_form_changes_precision_and_refuses_fp16_on_cpu(store, tmp_path, no_cuda):
    parent = make_session(store, "completed")
    at = select(nav_app(tmp_path, "sessions").run(), parent)
    field = at.selectbox(key=f"ses_rl_{parent}_precision")
    assert not at.exception
    assert field.value == "auto" and precision.auto_summary() in field.help
    field.set_value("fp16").run()
    assert FP16_NEEDS_CUDA in [e.value for e in at.error]
    assert at.button(key="ses_relaunch_custom").disabled
    at.selectbox(key=f"ses_rl_{parent}_precision").set_value("fp32").run()
    at.button(key="ses_relaunch_custom").click().run()
    children = [s.id for s in store.list() if s.parent == parent]
    try:
        assert not at.exception and len(children) == 1
        assert store.load(children[0]).training.precision == "fp32"
    finally:
        cancel_all(store, children)


def test_session_details_show_precision_in_words(store, tmp_path):
    parent = make_session(store, "completed")
    at = select(nav_app(tmp_path, "sessions").run(), parent)
    assert not at.exception
    shown = [str(frame.value.to_dict("records")) for frame in at.dataframe]
    assert any("'Precision'" in text and precision.setting_text("auto") in text for text in shown)
