"""Every table of every page in words: readable column names, '—' for a missing value (never
the text 'None'), no session id where a name exists. Tables are drawn on a canvas in the
browser, so their cells are checked here, headless; tests/test_browser_walk.py checks the rest.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from apptest_support import demo_state, page_test
from factories import make_relaunch_pair, make_session
from test_page_sessions import select

from arena_core.viz.wording import EMPTY
from ui.common import (
    BENCHMARK,
    COMPARE,
    COMPARE_SESSIONS,
    DATASET,
    HOME,
    MONITOR,
    MONITOR_SESSION,
    PREDICT,
    SESSIONS,
    STRATEGY,
)

SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")


def table_problems(frame: pd.DataFrame, placeholder: str, ids: list[str]) -> list[str]:
    problems = [f"column '{c}'" for c in frame.columns if SNAKE.match(str(c))]
    if placeholder != EMPTY:
        problems.append(f"missing values read {placeholder!r}, not {EMPTY!r}")
    for column in frame.columns:
        if column == "id":
            continue  # the one column that names sessions by id, beside their names
        cells = frame[column].astype(str) if frame[column].dtype == object else pd.Series([])
        if cells.isin(["None", "nan"]).any():
            problems.append(f"'None' in column '{column}'")
        if cells.isin(ids).any():
            problems.append(f"a session id in column '{column}'")
    return problems


def page_tables(at) -> list[str]:
    problems = []
    for element in at.dataframe:
        problems += table_problems(element.value, element.proto.placeholder, IDS)
    return problems


IDS: list[str] = []


@pytest.fixture
def family(store):
    parent, child = make_relaunch_pair(store, name="reviews")
    make_session(store, "failed", name="other")
    IDS[:] = [s.id for s in store.list()]
    return parent, child


@pytest.mark.parametrize(
    "page", [HOME, DATASET, STRATEGY, SESSIONS, MONITOR, COMPARE, BENCHMARK, PREDICT]
)
def test_tables_read_in_words(family, page):
    state = {**demo_state(), COMPARE_SESSIONS: list(family), MONITOR_SESSION: family[1]}
    at = page_test(page, state)
    if page == SESSIONS:
        select(at, family[1])
    assert not at.exception
    assert at.dataframe or page in (HOME, BENCHMARK, PREDICT), "no table to check"
    assert not page_tables(at), page_tables(at)
