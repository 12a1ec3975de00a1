"""Shared page plumbing: the store, session-state keys, errors, navigation between pages."""

from __future__ import annotations

from typing import Any

import streamlit as st

from arena_core import settings
from arena_core.errors import ArenaError
from arena_core.store.session_store import SessionStore
from arena_core.viz.wording import EMPTY

# Page files, named once so links and switch_page agree with app.py.
HOME = "app_pages/home.py"
DATASET = "app_pages/dataset.py"
STRATEGY = "app_pages/strategy.py"
SESSIONS = "app_pages/sessions.py"
MONITOR = "app_pages/monitor.py"
COMPARE = "app_pages/compare.py"
BENCHMARK = "app_pages/benchmark.py"
PREDICT = "app_pages/predict.py"

# Cross-page session_state keys (page-local keys carry their page's prefix instead).
DATASET_PATH = "dataset_path"  # str: the uploaded/demo file on disk
DATASET_SOURCE = "dataset_source_name"  # str: the name the user knows the file by
DATASET_OPTIONS = "dataset_options"  # dict: DatasetOptions.model_dump()
MONITOR_SESSION = "monitor_session"  # str: session id shown by the Monitor page
COMPARE_SESSIONS = "compare_sessions"  # list[str]: preselected on the Compare page


@st.cache_resource
def _store_for(home: str) -> SessionStore:
    return SessionStore(home)


def get_store() -> SessionStore:
    """One store per ARENA_HOME (read from the environment each run, so tests can switch it)."""
    return _store_for(str(settings.home()))


def table(data: Any, **kwargs: Any) -> Any:
    """st.dataframe as every page shows tables: no index, and a missing value reads '—'
    (Streamlit's default shows the text 'None')."""
    kwargs.setdefault("hide_index", True)
    return st.dataframe(data, placeholder=EMPTY, **kwargs)


def show_error(exc: ArenaError) -> None:
    st.error(str(exc), icon=":material/error:")


def open_monitor(session_id: str) -> None:
    """Go to the live view of a session."""
    st.session_state[MONITOR_SESSION] = session_id
    st.query_params["session"] = session_id
    st.switch_page(MONITOR)
