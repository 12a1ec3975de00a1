"""Predict page through AppTest: empty store, sessions without models, a really trained session."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from pages_fixtures import page_test, populated_store, small_data, texts_of

from arena_core.dataset import load_dataset
from arena_core.manifest import SplitSettings, TrainingConfig, file_sha256
from arena_core.sessions import SessionSettings, create_session, prepare
from arena_core.store import SessionStore
from ui.common import PREDICT

jobs = pytest.importorskip("arena_core.jobs", reason="arena_core.jobs trains the session")


def test_predict_on_an_empty_store_points_to_sessions(home):
    at = page_test(PREDICT)
    assert not at.exception
    assert at.info and at.button(key="pr_to_sessions")


def test_predict_lists_only_completed_sessions(store):
    ids = populated_store(store)
    at = page_test(PREDICT)
    assert not at.exception
    assert at.selectbox(key="pr_session").options == [f"s-completed ({ids['completed']})"]
    # Its status says completed but no model folder exists: a message, not a crash.
    assert any("no trained model" in w for w in texts_of(at, "warning"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[SessionStore, str]:
    """A session really trained by the worker: sentiment multi-class + 2 themes one-vs-all."""
    folder = tmp_path_factory.mktemp("predict")
    store = SessionStore(folder / "arena_home")
    path, options = small_data(folder)
    settings = SessionSettings(
        strategies={"sentiment": "multi-class", "themes": "one-vs-all"},
        split=SplitSettings(val_ratio=0.25, seed=1),
        training=TrainingConfig(model="tiny", epochs=1, batch_size=16, logging_steps=2),
        name="trained",
    )
    prepared = prepare(load_dataset(path, options), settings, file_sha256(path))
    session_id = create_session(store, prepared).id
    jobs.launch(store, session_id)
    status = jobs.wait(store, session_id, poll=0.5, quiet=True, timeout=240)
    assert status.value == "completed", (store.session_dir(session_id) / "worker.log").read_text()
    return store, session_id


def test_pasted_texts_get_one_column_per_key(trained, monkeypatch):
    store, session_id = trained
    monkeypatch.setenv("ARENA_HOME", str(store.home))
    at = page_test(PREDICT)
    assert at.selectbox(key="pr_session").value == session_id
    assert at.button(key="pr_predict").disabled  # nothing to predict yet
    at.text_area(key="pr_text").set_value("great wonderful market\n\nawful football goal\n").run()
    at.button(key="pr_predict").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table.columns) == ["text", "sentiment", "sentiment score", "themes"]
    assert table["text"].tolist() == ["great wonderful market", "awful football goal"]
    assert set(table["sentiment"]) <= {"positive", "negative", "neutral"}
    for cell in table["themes"]:
        assert set(filter(None, cell.split("; "))) <= {"economy", "sports"}
    assert len(at.get("download_button")) == 2


def test_uploaded_file_is_predicted_row_by_row(trained, monkeypatch, tmp_path):
    store, _ = trained
    monkeypatch.setenv("ARENA_HOME", str(store.home))
    buffer = io.BytesIO()
    pd.DataFrame({"id": [1, 2, 3], "body": ["great day", "awful prices", "plain goal"]}).to_parquet(
        buffer, index=False
    )
    at = page_test(PREDICT)
    at.radio(key="pr_mode").set_value("file").run()
    at.file_uploader(key="pr_file").upload("new texts.parquet", buffer.getvalue()).run()
    assert not at.exception
    assert at.selectbox(key="pr_text_col").value == "body"
    at.button(key="pr_predict").click().run()
    assert not at.exception
    assert at.dataframe[0].value["text"].tolist() == ["great day", "awful prices", "plain goal"]
