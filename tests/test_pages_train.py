"""Home, Dataset and Strategy pages through AppTest: empty store, sessions, demo, bad files, launch."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pandas as pd
import pytest
from apptest_support import dataset_state, demo_state, page_test, texts_of
from factories import make_rows, options, populated_store, write_dataset
from test_bad_inputs import BAD_INPUTS

from arena_core.data.demo import demo_path
from arena_core.data.uploads import safe_upload_name, save_upload
from arena_core.errors import ArenaError
from arena_core.run import control
from arena_core.store.session_store import SessionStore
from ui.common import DATASET, DATASET_PATH, DATASET_SOURCE, HOME, MONITOR_SESSION, STRATEGY
from ui.dataset_state import GENERATION, IS_DEMO

TRAIN_PAGES = [HOME, DATASET, STRATEGY]


# ---------------------------------------------------------------- every page renders


@pytest.mark.parametrize("page", TRAIN_PAGES)
def test_pages_render_on_an_empty_store(home, page):
    at = page_test(page)
    assert not at.exception
    if page == HOME:
        assert "Get started in three steps" in texts_of(at, "subheader")
    else:
        assert at.info, "a guard message is shown when no dataset is chosen"


@pytest.mark.parametrize("page", TRAIN_PAGES)
def test_pages_render_with_sessions_in_every_status(store, page):
    ids = populated_store(store)
    at = page_test(page, demo_state())
    assert not at.exception
    if page == HOME:
        bars = at.get("progress")
        assert len(bars) == 1, "only the running session is 'running now'"
        assert "s-running" in bars[0].proto.text and "step 12/40" in bars[0].proto.text
        markdown = " ".join(texts_of(at, "markdown"))
        for kind, session_id in ids.items():  # listed by name, never by id
            assert f"**s-{kind}**" in markdown and session_id not in markdown
        assert at.button(key=f"home_monitor_{ids['running']}")


def test_home_monitor_button_opens_the_monitor(store):
    ids = populated_store(store)
    at = page_test(HOME)
    at.button(key=f"home_open_{ids['failed']}").click().run()
    assert not at.exception
    assert at.session_state[MONITOR_SESSION] == ids["failed"]


def test_try_the_demo_lands_on_strategy_with_automatic_length(home):
    at = page_test(HOME)
    at.button(key="home_demo").click().run()
    assert not at.exception
    assert at.session_state[DATASET_PATH] == str(demo_path())
    assert at.session_state[IS_DEMO] is True
    assert at.title[0].value == "Strategy"
    assert at.number_input(key="st_epochs").value == 0  # 0 = sized by the step budget
    assert "This session will train 5 models" in texts_of(at, "subheader")
    assert any("optimizer steps" in text for text in texts_of(at, "caption"))


# ---------------------------------------------------------------- dataset page


def column_key(at, name: str) -> str:
    """The Dataset page's widget key for a column role (new for each chosen dataset)."""
    return f"ds_col_{name}_{at.session_state[GENERATION]}"


def test_dataset_demo_shows_one_chart_per_key(home):
    at = page_test(DATASET)
    at.button(key="ds_demo").click().run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2  # sentiment, themes
    assert any("multi-valued" in text for text in texts_of(at, "markdown"))
    assert at.selectbox(key=column_key(at, "lang")).value == "lang"
    at.button(key="ds_continue").click().run()
    assert not at.exception
    assert at.title[0].value == "Strategy"


def test_dataset_min_examples_marks_dropped_labels(tmp_path, home):
    path = write_dataset(tmp_path, "csv", make_rows(36), "small")
    at = page_test(DATASET, dataset_state(path, options(lang_col=None)))
    at.number_input(key="ds_min_examples").set_value(13).run()
    assert not at.exception
    assert at.session_state["dataset_min_examples"] == 13
    dropped = [c for c in texts_of(at, "caption") if c.startswith("Dropped")]
    # 36 rows: each sentiment has 12 (dropped), each theme 16 or 18 (kept)
    assert dropped == ["Dropped (fewer than 13 examples): negative, neutral, positive"]


def test_upload_is_saved_inside_uploads_under_a_safe_name(tmp_path, home):
    path = write_dataset(tmp_path, "csv", make_rows(36), "small")
    at = page_test(DATASET)
    at.file_uploader(key="ds_upload").upload("../../my data?.csv", path.read_bytes(), "text/csv")
    at.run()
    assert not at.exception
    saved = Path(at.session_state[DATASET_PATH])
    assert saved.parent == (home / "uploads").resolve()
    assert saved.name.endswith("_my_data_.csv")
    assert at.session_state[DATASET_SOURCE] == "my_data_.csv"
    assert len(at.get("plotly_chart")) == 2


def test_label_columns_layout_is_guessed_and_charted(tmp_path, home):
    rows = [
        {
            "text": f"text number {i}",
            "sentiment": "pos" if i % 2 else "neg",
            "topic": "a;b"[: 1 + i % 3],
        }
        for i in range(12)
    ]
    path = tmp_path / "columns.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    at = page_test(DATASET)
    at.file_uploader(key="ds_upload").upload("columns.csv", path.read_bytes(), "text/csv").run()
    assert not at.exception
    assert at.radio(key=column_key(at, "layout")).value == "label-columns"
    assert at.multiselect(key=column_key(at, "labels")).value == ["sentiment", "topic"]
    assert len(at.get("plotly_chart")) == 2


def test_a_second_upload_gets_fresh_column_guesses(tmp_path, home):
    first = tmp_path / "reviews.csv"
    pd.DataFrame(
        {"review": ["good film", "bad film"] * 3, "stars": [5, 1] * 3, "label": ["p", "n"] * 3}
    ).to_csv(first, index=False)
    second = tmp_path / "news.csv"
    pd.DataFrame(
        {"body": [f"story {i} about things" for i in range(6)], "topic": ["a", "b"] * 3}
    ).to_csv(second, index=False)
    at = page_test(DATASET)
    for path in (first, second):
        at.file_uploader(key="ds_upload").upload(path.name, path.read_bytes(), "text/csv").run()
    assert not at.exception
    assert at.selectbox(key=column_key(at, "text")).value == "body"
    assert at.multiselect(key=column_key(at, "labels")).value == ["topic"]
    assert not at.error


def test_a_numeric_text_column_is_refused_with_one_message(tmp_path, home):
    path = tmp_path / "stars.csv"
    pd.DataFrame({"review": ["good film", "bad film"] * 3, "stars": [5, 1] * 3}).to_csv(
        path, index=False
    )
    at = page_test(DATASET)
    at.file_uploader(key="ds_upload").upload(path.name, path.read_bytes(), "text/csv").run()
    at.selectbox(key=column_key(at, "text")).select("stars").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "stars.csv: column 'stars' holds numbers, not texts. Choose the column with the texts "
        "to classify as the text column."
    ]


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\win.CSV", "win.csv"),
        ("...", "upload"),
        ("a b/c d.xlsx", "c_d.xlsx"),
        (".hidden.csv", "hidden.csv"),
    ],
)
def test_upload_names_never_escape(tmp_path, name, safe):
    assert safe_upload_name(name) == safe
    target, _ = save_upload(tmp_path, name, b"x")
    assert target.parent == (tmp_path / "uploads").resolve()


def test_garbage_upload_shows_one_error(home):
    at = page_test(DATASET)
    at.file_uploader(key="ds_upload").upload("garbage.csv", bytes(range(256)) * 8, "text/csv")
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "binary file" in at.error[0].value
    assert not at.get("plotly_chart")


def _bad_inputs():
    wanted = {
        "binary_garbage",
        "pdf_named_csv",
        "latin1_bytes",
        "json_broken",
        "xlsx_damaged_zip",
        "parquet_truncated",
        "annotation_all_invalid",
        "nan_everywhere",
    }
    return [case for case in BAD_INPUTS if case.name in wanted]


@pytest.mark.parametrize("case", _bad_inputs(), ids=lambda case: case.name)
def test_bad_files_show_the_dataset_error(tmp_path, home, case):
    path = case.write(tmp_path)
    at = page_test(DATASET, dataset_state(path, case.options, case.source_name))
    assert not at.exception
    assert len(at.error) == 1
    assert case.expect_error in at.error[0].value


# ---------------------------------------------------------------- strategy page


def test_strategy_counts_models_for_the_chosen_strategies(home):
    at = page_test(STRATEGY, demo_state())
    assert not at.exception
    assert "auto would choose: one-vs-all (one yes/no model per value)" in texts_of(at, "caption")
    assert "This session will train 5 models" in texts_of(at, "subheader")
    at.selectbox(key="st_strategy_themes").set_value("multi-label").run()
    assert "This session will train 2 models" in texts_of(at, "subheader")
    at.toggle(key="st_per_language").set_value(True).run()
    assert "This session will train 4 models" in texts_of(at, "subheader")  # EN + FR


def test_strategy_choices_survive_a_visit_to_another_page(home):
    at = page_test(STRATEGY, demo_state())
    at.selectbox(key="st_strategy_themes").set_value("multi-label").run()
    at.radio(key="st_model").set_value("tiny").run()
    at.switch_page(DATASET).run()
    at.switch_page(STRATEGY).run()
    assert not at.exception
    assert at.selectbox(key="st_strategy_themes").value == "multi-label"
    assert at.radio(key="st_model").value == "tiny"
    assert "This session will train 2 models" in texts_of(at, "subheader")


def test_impossible_strategy_disables_launch_with_the_reason(home):
    at = page_test(STRATEGY, demo_state())
    at.selectbox(key="st_strategy_themes").set_value("multi-class").run()
    assert not at.exception
    assert any("cannot be multi-class" in e for e in texts_of(at, "error"))
    assert at.button(key="st_launch").disabled
    assert not any("will train" in s for s in texts_of(at, "subheader"))


def test_per_language_is_disabled_without_languages(tmp_path, home):
    path = write_dataset(tmp_path, "csv", make_rows(36), "small")
    at = page_test(STRATEGY, dataset_state(path, options(lang_col=None)))
    assert not at.exception
    assert at.toggle(key="st_per_language").disabled


def test_launch_creates_exactly_one_session(home, store: SessionStore):
    at = page_test(STRATEGY, demo_state())
    at.radio(key="st_model").set_value("tiny").run()
    assert at.number_input(key="st_attention_dropout").value == 0.0  # the memory-saving default
    at.number_input(key="st_attention_dropout").set_value(0.1).run()
    at.button(key="st_launch").click().run()
    try:
        assert not at.exception
        summaries = store.list()
        assert len(summaries) == 1
        assert at.session_state[MONITOR_SESSION] == summaries[0].id
        training = store.load(summaries[0].id).training
        assert training.model == "tiny" and training.attention_dropout == 0.1
        # Back on the page with the same choices: Launch stays disabled, still one session.
        at.switch_page(STRATEGY).run()
        assert at.button(key="st_launch").disabled
        assert len(store.list()) == 1
        # A changed setting is a new session to launch.
        at.number_input(key="st_epochs").set_value(2).run()
        assert not at.button(key="st_launch").disabled
    finally:
        for summary in store.list():
            with contextlib.suppress(ArenaError):
                control.cancel(store, summary.id, grace=2)
