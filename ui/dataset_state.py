"""The dataset the user is working on, shared by the Home, Dataset, Strategy and Predict pages.

The chosen file lives on disk (uploads are saved by arena_core.data.uploads); session_state holds
only its path, display name and reading options, so pages stay thin and a rerun re-reads nothing
(the reads are cached on path + options).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

from arena_core.data.columns import guess_columns
from arena_core.data.dataset import NormalisedDataset, load_dataset
from arena_core.data.readers import ReadResult, read_table
from arena_core.session.manifest import DatasetOptions, file_sha256
from ui.common import DATASET_OPTIONS, DATASET_PATH, DATASET_SOURCE

MIN_EXAMPLES = "dataset_min_examples"  # int: chosen on the Dataset page, used by Strategy
IS_DEMO = "dataset_is_demo"  # bool: the bundled demo is loaded (Strategy preselects 1 epoch)
GENERATION = "dataset_generation"  # int: bumped each time another dataset is chosen
DEFAULT_MIN_EXAMPLES = 2
UPLOAD_TYPES = ["csv", "tsv", "jsonl", "json", "parquet", "xlsx"]
_KEPT = "__kept"
# Choices that follow the dataset: forgotten when another dataset is chosen.
_PER_DATASET = ("ds_col_", "st_strategy_", "st_name", "st_epochs")


def remember(key: str, default: Any) -> dict[str, Any]:
    """Widget kwargs (key, on_change) whose value survives visits to other pages.

    Streamlit drops a widget's state when a run does not show it; a plain copy under another
    key does not get dropped and refills the widget when its page is shown again. Pass no
    ``value``/``index`` to the widget: the value comes from session_state.
    """
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(key + _KEPT, default)

    def keep() -> None:
        st.session_state[key + _KEPT] = st.session_state[key]

    return {"key": key, "on_change": keep}


def choose_dataset(path: Path | str, source_name: str, options: dict | None = None) -> None:
    """Make ``path`` the current dataset; page widgets of the previous file are forgotten."""
    st.session_state[DATASET_PATH] = str(path)
    st.session_state[DATASET_SOURCE] = source_name
    st.session_state[IS_DEMO] = False
    st.session_state[GENERATION] = st.session_state.get(GENERATION, 0) + 1
    if options is None:
        st.session_state.pop(DATASET_OPTIONS, None)
    else:
        st.session_state[DATASET_OPTIONS] = options
    for key in [k for k in st.session_state if str(k).startswith(_PER_DATASET)]:
        del st.session_state[key]


def column_widget_key(name: str) -> str:
    """A Dataset-page widget key that is new for each chosen dataset.

    Deleting a widget's session_state entry is not enough: the browser still holds the old
    widget and shows its old choice (a column the new file lacks) until the key changes.
    """
    return f"ds_col_{name}_{st.session_state.get(GENERATION, 0)}"


def use_demo() -> None:
    """Load the bundled demo dataset (EN/FR texts, sentiment + themes) into the session."""
    from arena_core.data.demo import demo_options, demo_path

    path = demo_path()
    choose_dataset(path, path.name, demo_options().model_dump())
    st.session_state[IS_DEMO] = True
    st.session_state[MIN_EXAMPLES] = DEFAULT_MIN_EXAMPLES


def current() -> tuple[str, str, DatasetOptions | None] | None:
    """(path, source name, options or None) of the chosen dataset, or None when none chosen."""
    path = st.session_state.get(DATASET_PATH)
    if not path:
        return None
    source = st.session_state.get(DATASET_SOURCE) or Path(path).name
    raw = st.session_state.get(DATASET_OPTIONS)
    return path, source, DatasetOptions.model_validate(raw) if raw else None


@st.cache_data(max_entries=8, show_spinner="Reading the file...")
def read_cached(path: str, source: str, mtime: float) -> ReadResult:
    return read_table(Path(path), source_name=source)


@st.cache_data(max_entries=8, show_spinner="Reading the annotations...")
def load_cached(path: str, source: str, options_json: str, mtime: float) -> NormalisedDataset:
    options = DatasetOptions.model_validate_json(options_json)
    return load_dataset(Path(path), options, source_name=source)


@st.cache_data(max_entries=8)
def sha256_cached(path: str, mtime: float) -> str:
    return file_sha256(Path(path))


def _mtime(path: str) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0  # the reader then says the file is missing


def read(path: str, source: str) -> ReadResult:
    """The raw table (cached); raises DatasetError."""
    return read_cached(path, source, _mtime(path))


def load(path: str, source: str, options: DatasetOptions) -> NormalisedDataset:
    """The normalised dataset (cached on path + options); raises ArenaError."""
    options_json = json.dumps(options.model_dump(), sort_keys=True)
    return load_cached(path, source, options_json, _mtime(path))


def source_sha256(path: str) -> str:
    return sha256_cached(path, _mtime(path))


def default_options(result: ReadResult) -> DatasetOptions:
    """Options guessed from the columns (the Dataset page prefills its widgets with them)."""
    return guess_columns(result.frame).to_options()
