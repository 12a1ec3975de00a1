"""Baseline sessions through the pages a user opens: Monitor, Compare and Predict treat a tfidf
model like any model, and a fine-tune that loses to the tfidf baseline says so."""

from __future__ import annotations

import pytest
from apptest_support import nav_app, page_test, texts_of

from arena_core.data.demo import demo_options, demo_path
from arena_core.run.worker import run_session
from arena_core.session.create import SessionSettings, create_session, prepare_from_file
from arena_core.session.manifest import SessionStatus, TrainingConfig
from arena_core.store.session_store import SessionStore
from ui.common import COMPARE_SESSIONS, MONITOR_SESSION, PREDICT

HYBRID = {"sentiment": "multi-class", "themes": "one-vs-all"}


def _trained(store: SessionStore, model: str, **training) -> str:
    settings = SessionSettings(
        strategies=HYBRID, training=TrainingConfig(model=model, **training), name=model
    )
    session_id = create_session(store, prepare_from_file(demo_path(), demo_options(), settings)).id
    assert run_session(store, session_id) is SessionStatus.COMPLETED
    return session_id


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> tuple[SessionStore, str, str]:
    """A tfidf session and a 1-epoch tiny fine-tune (which the baseline beats) on the demo."""
    store = SessionStore(tmp_path_factory.mktemp("baselines") / "arena_home")
    return store, _trained(store, "tfidf"), _trained(store, "tiny", epochs=1)


def test_monitor_shows_a_baseline_session_and_warns_when_fine_tuning_did_not_pay(
    sessions, tmp_path, monkeypatch
):
    store, tfidf, tiny = sessions
    monkeypatch.setenv("ARENA_HOME", str(store.home))
    for session_id in (tfidf, tiny):
        at = nav_app(tmp_path, "monitor")
        at.session_state[MONITOR_SESSION] = session_id
        at.run()
        assert not at.exception
        table = next(d.value for d in at.dataframe if "macro-F1" in d.value.columns)
        assert set(table["status"]) == {"completed"}
    assert "TF-IDF baseline" in table.columns
    assert table["TF-IDF baseline"].notna().all()
    assert any("TF-IDF baseline scored higher" in w for w in texts_of(at, "warning"))


def test_compare_puts_a_baseline_beside_a_fine_tune(sessions, tmp_path, monkeypatch):
    store, tfidf, tiny = sessions
    monkeypatch.setenv("ARENA_HOME", str(store.home))
    at = nav_app(tmp_path, "compare")
    at.session_state[COMPARE_SESSIONS] = [tfidf, tiny]
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) >= 2


def test_predict_with_a_baseline_model_in_one_click(sessions, monkeypatch):
    store, tfidf, _ = sessions
    monkeypatch.setenv("ARENA_HOME", str(store.home))
    at = page_test(PREDICT)
    at.selectbox(key="pr_session").set_value(tfidf).run()
    at.text_area(key="pr_text").set_value("An excellent success, we are delighted.\n").run()
    at.button(key="pr_predict").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["sentiment"].tolist()[0] in {"positive", "negative", "neutral"}
