"""Pages under Streamlit's AppTest: the app with its navigation, session state, shown texts.

``page_test(page)`` runs app.py (st.navigation), then switches to the page, so st.switch_page
between pages works as in the browser. ``nav_app(tmp_path, page)`` runs the Sessions, Monitor
and Compare pages under a navigation whose other pages are stubs.
"""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from arena_core.data.demo import demo_options, demo_path
from arena_core.session.manifest import DatasetOptions
from ui.common import DATASET_OPTIONS, DATASET_PATH, DATASET_SOURCE
from ui.dataset_state import IS_DEMO

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
TIMEOUT = 60
PAGE_FILES = (
    "home",
    "dataset",
    "strategy",
    "sessions",
    "monitor",
    "compare",
    "benchmark",
    "predict",
)
OWN_PAGES = ("sessions", "monitor", "compare")


def page_test(page: str | None = None, state: dict | None = None) -> AppTest:
    """Run the app, set ``state``, then show ``page`` (a path like 'app_pages/dataset.py')."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    if page is not None and page != "app_pages/home.py":
        at.switch_page(page).run()
    return at


def nav_app(tmp_path: Path, page: str, timeout: float = 30) -> AppTest:
    """An AppTest whose entry registers all eight pages with st.navigation, ``page`` first.

    Page links and st.switch_page only work under navigation, so a page file cannot be
    tested alone for them. Our three pages are the real files (symlinked); the others are
    stubs, so this test does not depend on pages written elsewhere.
    """
    folder = Path(tmp_path) / "nav"
    (folder / "app_pages").mkdir(parents=True, exist_ok=True)
    for name in PAGE_FILES:
        target = folder / "app_pages" / f"{name}.py"
        if target.exists() or target.is_symlink():
            continue
        if name in OWN_PAGES:
            target.symlink_to(ROOT / "app_pages" / f"{name}.py")
        else:
            target.write_text(f"import streamlit as st\nst.write('stub page {name}')\n")
    entries = ", ".join(
        f"st.Page('app_pages/{name}.py', default={name == page})" for name in PAGE_FILES
    )
    (folder / "entry.py").write_text(
        f"import streamlit as st\nst.navigation([{entries}]).run()\n", "utf-8"
    )
    return AppTest.from_file(str(folder / "entry.py"), default_timeout=timeout)


def demo_state() -> dict:
    """Session state as the 'Try the demo' button leaves it."""
    return {
        DATASET_PATH: str(demo_path()),
        DATASET_SOURCE: demo_path().name,
        DATASET_OPTIONS: demo_options().model_dump(),
        IS_DEMO: True,
    }


def dataset_state(path: Path, options: DatasetOptions, source: str | None = None) -> dict:
    """Session state of a dataset chosen on the Dataset page with these column options."""
    return {
        DATASET_PATH: str(path),
        DATASET_SOURCE: source or Path(path).name,
        DATASET_OPTIONS: options.model_dump(),
    }


def texts_of(at: AppTest, kind: str) -> list[str]:
    """The values of every element of ``kind`` ('error', 'warning', 'subheader', ...)."""
    return [str(el.value) for el in getattr(at, kind)]
