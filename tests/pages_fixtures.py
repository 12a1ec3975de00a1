"""Builders shared by the page tests: sessions in every status, the demo in session state, AppTest.

Pages are run through app.py (st.navigation), so st.switch_page between pages works as in the
browser: ``page_test(DATASET)`` starts the app, then switches to the page.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from arena_core.data.dataset import NormalisedDataset, load_dataset
from arena_core.data.demo import demo_options, demo_path
from arena_core.session.create import SessionSettings, create_session, prepare
from arena_core.session.manifest import (
    DatasetOptions,
    SessionManifest,
    SessionStatus,
    TrainingConfig,
)
from arena_core.store.progress import write_progress
from arena_core.store.session_store import SessionStore
from ui.common import DATASET_OPTIONS, DATASET_PATH, DATASET_SOURCE
from ui.dataset_state import IS_DEMO

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
TIMEOUT = 60
SENTIMENTS = ("positive", "negative", "neutral")
THEMES = ("economy", "sports")
WORDS = {
    "positive": "great wonderful",
    "negative": "awful terrible",
    "neutral": "plain usual",
    "economy": "market prices",
    "sports": "football goal",
}


def page_test(page: str | None = None, state: dict | None = None) -> AppTest:
    """Run the app, set ``state``, then show ``page`` (a path like 'app_pages/dataset.py')."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    if page is not None and page != "app_pages/home.py":
        at.switch_page(page).run()
    return at


def demo_state() -> dict:
    """Session state as the 'Try the demo' button leaves it."""
    return {
        DATASET_PATH: str(demo_path()),
        DATASET_SOURCE: demo_path().name,
        DATASET_OPTIONS: demo_options().model_dump(),
        IS_DEMO: True,
    }


def dataset_state(path: Path, options: DatasetOptions, source: str | None = None) -> dict:
    return {
        DATASET_PATH: str(path),
        DATASET_SOURCE: source or Path(path).name,
        DATASET_OPTIONS: options.model_dump(),
    }


def small_data(folder: Path, n_rows: int = 36) -> tuple[Path, DatasetOptions]:
    """A CSV whose words give the labels away: sentiment (one value), themes (0-2 of 2)."""
    rows = []
    for i in range(n_rows):
        sentiment = SENTIMENTS[i % 3]
        themes = [t for j, t in enumerate(THEMES) if (i >> j) & 1]
        words = " ".join(WORDS[w] for w in [sentiment, *themes])
        rows.append(
            {
                "text": f"note {i}: {words}",
                "annotation": json.dumps({"sentiment": sentiment, "themes": themes}),
            }
        )
    path = Path(folder) / "small.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path, DatasetOptions(text_col="text", annotation_col="annotation")


def demo_dataset() -> NormalisedDataset:
    return load_dataset(demo_path(), demo_options())


def make_session(
    store: SessionStore,
    status: SessionStatus = SessionStatus.READY,
    name: str = "demo",
    dataset: NormalisedDataset | None = None,
    **training,
) -> SessionManifest:
    """A session created through prepare + create_session (tiny model), then put in ``status``.

    RUNNING gets a fresh progress.json whose pid is this process, so it reads as running.
    """
    settings = SessionSettings(
        name=name, training=TrainingConfig(**{"model": "tiny", "epochs": 1, **training})
    )
    manifest = create_session(store, prepare(dataset or demo_dataset(), settings, "0" * 64))
    folder = store.session_dir(manifest.id)
    if status is SessionStatus.RUNNING:
        first = manifest.plan[0].id
        write_progress(
            folder,
            {
                "session": manifest.id,
                "status": "running",
                "pid": os.getpid(),
                "started_at": time.time(),
                "current_job": first,
                "overall": {"steps_done": 12, "total_steps": 40, "eta_seconds": 95.0},
                "jobs": {first: {"status": "running", "step": 12, "total_steps": 20}},
            },
        )
    if status is not SessionStatus.READY:
        store.set_status(manifest.id, status, "set by the test")
    return manifest


def populated_store(store: SessionStore) -> dict[str, str]:
    """One session per interesting status: completed, running, failed. Returns status -> id."""
    return {
        status.value: make_session(store, status, name=f"s-{status.value}").id
        for status in (SessionStatus.COMPLETED, SessionStatus.RUNNING, SessionStatus.FAILED)
    }


def texts_of(at: AppTest, kind: str) -> list[str]:
    """The values of every element of ``kind`` ('error', 'warning', 'subheader', ...)."""
    return [str(el.value) for el in getattr(at, kind)]
