"""Predict page through AppTest: empty store, sessions without models, a really trained session."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from apptest_support import page_test, texts_of
from factories import SENTIMENTS, new_session, populated_store

from arena_core.run import control
from arena_core.store import paths
from arena_core.store.session_store import SessionStore
from arena_core.training.predict import load_count
from arena_core.training.predict_table import ARGMAX, NO_LABEL
from arena_core.viz.compare import session_titles
from ui.common import PREDICT


def test_predict_on_an_empty_store_points_to_sessions(home):
    at = page_test(PREDICT)
    assert not at.exception
    assert at.info and at.button(key="pr_to_sessions")


def test_predict_lists_only_completed_sessions(store):
    ids = populated_store(store)
    at = page_test(PREDICT)
    assert not at.exception
    title = session_titles([store.summary(ids["completed"])])[ids["completed"]]
    assert at.selectbox(key="pr_session").options == [title]  # name · date, no id
    assert title.startswith("s-completed · ") and ids["completed"] not in title
    # Its status says completed but no model folder exists: a message, not a crash.
    assert any("no trained model" in w for w in texts_of(at, "warning"))


def frame_with(at, column: str) -> pd.DataFrame:
    """The shown table that has ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[SessionStore, str]:
    """A session really trained by the worker: sentiment multi-class + 2 themes one-vs-all."""
    folder = tmp_path_factory.mktemp("predict")
    store = SessionStore(folder / "arena_home")
    session_id = new_session(
        store,
        "trained",
        rows=36,
        keys={"sentiment": SENTIMENTS, "themes": ["economy", "sports"]},
        strategies={"sentiment": "multi-class", "themes": "one-vs-all"},
    )
    control.launch(store, session_id)
    status = control.wait(store, session_id, poll=0.5, quiet=True, timeout=240)
    assert status.value == "completed", (store.session_dir(session_id) / "worker.log").read_text()
    return store, session_id


def test_pasted_texts_get_one_column_per_key(trained, monkeypatch):
    store, session_id = trained
    monkeypatch.setenv("ARENA_HOME", str(store.home))
    at = page_test(PREDICT)
    assert at.selectbox(key="pr_session").value == session_id
    at.button(key="pr_predict").click().run()  # nothing typed: a hint, no table
    assert not at.exception and not at.dataframe
    assert any("at least one text" in w for w in texts_of(at, "warning"))
    at.text_area(key="pr_text").set_value("great wonderful market\n\nawful football goal\n")
    at.button(key="pr_predict").click().run()  # the text travels with the click (one form)
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table.columns) == ["text", "sentiment", "themes"]
    assert table["text"].tolist() == ["great wonderful market", "awful football goal"]
    assert set(table["sentiment"]) <= {"positive", "negative", "neutral"}  # never blank
    for cell in table["themes"]:
        assert cell == NO_LABEL or set(cell.split("; ")) <= {"economy", "sports"}
    probabilities = frame_with(at, "sentiment: P(negative)")
    assert list(probabilities.columns) == [
        "text",
        "sentiment: P(negative)",
        "sentiment: P(neutral)",
        "sentiment: P(positive)",
        "themes: P(economy)",
        "themes: P(sports)",
    ]
    assert ((probabilities.iloc[:, 1:] >= 0) & (probabilities.iloc[:, 1:] <= 1)).all().all()
    decisions = frame_with(at, "Decision")
    assert decisions["Decision"].tolist()[0] == ARGMAX
    assert decisions["Threshold"].tolist()[1:] == ["0.5", "0.5"]  # one-vs-all: default
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
    assert at.dataframe[0].value["sentiment"].str.len().gt(0).all()


@pytest.fixture
def copied(trained, tmp_path, monkeypatch) -> tuple[str, list[Path]]:
    """The trained store copied to new paths (so no model of it is cached yet): id, model dirs."""
    store, session_id = trained
    home = Path(shutil.copytree(store.home, tmp_path / "arena_home"))
    monkeypatch.setenv("ARENA_HOME", str(home))
    copy = SessionStore(home)
    session_dir = copy.existing_dir(session_id)
    plan = copy.load(session_id).plan
    return session_id, [paths.job_dir(session_dir, job.id) / paths.JOB_MODEL for job in plan]


def test_models_load_once_and_reload_when_their_folder_changes(copied):
    _, model_dirs = copied
    at = page_test(PREDICT)
    at.text_area(key="pr_text").set_value("great wonderful market\nawful football goal").run()
    loads = load_count()
    at.button(key="pr_predict").click().run()
    assert not at.exception
    assert load_count() == loads + len(model_dirs) == loads + 3  # sentiment + 2 themes
    first = at.dataframe[0].value
    at.button(key="pr_predict").click().run()
    assert not at.exception and load_count() == loads + 3  # second click: all reused
    pd.testing.assert_frame_equal(at.dataframe[0].value, first)

    # A resume or relaunch saving a better model swaps the whole folder (trainer._save_best),
    swapped = model_dirs[0]
    fresh = shutil.copytree(swapped, swapped.with_name(".model.tmp"))
    shutil.rmtree(swapped)
    os.replace(fresh, swapped)
    # and an edited config.json (thresholds, labels) counts as a new model too.
    config = model_dirs[1] / "config.json"
    config.write_text(config.read_text() + "\n")
    at.button(key="pr_predict").click().run()
    assert not at.exception and load_count() == loads + 3 + 2
    pd.testing.assert_frame_equal(at.dataframe[0].value, first)  # same weights, same answers


def test_a_damaged_model_is_one_clear_error(copied):
    _, model_dirs = copied
    (model_dirs[0] / "model.safetensors").write_bytes(b"cut short by a full disk")
    at = page_test(PREDICT)
    at.text_area(key="pr_text").set_value("great wonderful market").run()
    at.button(key="pr_predict").click().run()
    assert not at.exception
    errors = texts_of(at, "error")
    assert len(errors) == 1 and "Cannot load the model" in errors[0]
    assert str(model_dirs[0]) in errors[0]
    assert not at.dataframe
