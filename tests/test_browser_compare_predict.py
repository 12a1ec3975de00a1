"""Compare and Predict in a real browser (headless Chromium), clicked as a person would.

A one-vs-all session and its relaunch child are trained once, in this process, with the tiny
model (10-30 s on 2 busy cores), and one server shows them to both tests. Tables are read the
way a person exports them: the data grid's "Download as CSV" toolbar button, or the
page's own download button.
Screenshots go to test-artifacts/<test name>/NN-step.png.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from browser_fixtures import new_tab
from browser_support import (
    choose_option,
    expect_visible,
    running_app,
    shot,
    wait_for_plot,
    wait_idle,
)
from factories import SENTIMENTS, new_session

from arena_core.run import control
from arena_core.run.worker import run_session
from arena_core.session.describe import job_results
from arena_core.session.manifest import SessionStatus
from arena_core.store.session_store import SessionStore
from arena_core.training.predict_table import ARGMAX, NO_LABEL
from arena_core.viz.charts import F1_TITLE
from arena_core.viz.compare import model_name, session_titles

try:
    from playwright.sync_api import expect
except ImportError:  # require_browser() skips (or fails in CI) with the reason
    expect = None

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

UI_TIMEOUT = 30  # s: one page render
THEMES = ["economy", "sports"]
# Grid toolbars save through showSaveFilePicker when the browser has it; without it they fall
# back to a plain download, which playwright can catch (a person gets a file either way).
PLAIN_DOWNLOADS = "delete window.showSaveFilePicker; window.showSaveFilePicker = undefined;"


# ---------------------------------------------------------------- fixtures: one training and one
# server serve both tests, which only read (Chromium: browser_fixtures.py, one per module)


@pytest.fixture(scope="module")
def served(chromium, tmp_path_factory):
    """(dashboard, home, parent, child): a one-vs-all session (sentiment multi-class + themes
    one-vs-all) really trained with the tiny model, its relaunch with another learning rate,
    and the dashboard on a free port for that ARENA_HOME (stopped at the end)."""
    folder = tmp_path_factory.mktemp("compare_predict")
    home = folder / "arena_home"
    store = SessionStore(home)
    parent = new_session(
        store,
        "ova",
        rows=36,
        keys={"sentiment": SENTIMENTS, "themes": THEMES},
        strategies={"sentiment": "multi-class", "themes": "one-vs-all"},
    )
    assert run_session(store, parent) is SessionStatus.COMPLETED  # in-process: no worker start
    child = control.relaunch(store, parent, {"learning_rate": 3e-4}, start=False)
    assert run_session(store, child) is SessionStatus.COMPLETED
    with running_app(home, log_dir=folder) as running:
        yield running, store, parent, child
        if running.process.poll() is not None:
            pytest.fail(f"the server died during the test:\n{running.log_tail()}")


@pytest.fixture
def page(chromium, request, artifacts_dir):
    """A tab whose downloads playwright can catch (see PLAIN_DOWNLOADS)."""
    with new_tab(
        chromium, request, artifacts_dir, init_script=PLAIN_DOWNLOADS, accept_downloads=True
    ) as tab:
        yield tab


# ---------------------------------------------------------------- reading what a person sees


def grid_csv(page, grid) -> pd.DataFrame:
    """A data grid's rows, through its toolbar's "Download as CSV" button."""
    expect_visible(grid)
    wait_idle(page)
    button = grid.get_by_role("button", name="Download as CSV")
    for attempt in range(3):
        grid.hover()
        try:
            with page.expect_download(timeout=10_000) as info:
                if attempt < 2:
                    button.click(timeout=5_000)
                else:  # the grid's scroller sometimes sits over the toolbar: press it directly
                    button.dispatch_event("click")
            break
        except Exception:  # noqa: BLE001 - retried, the last attempt raises below
            if attempt == 2:
                raise
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    return pd.read_csv(io.StringIO(text))


def page_download(page, name: str) -> pd.DataFrame:
    """A st.download_button's file (CSV), clicked by its label."""
    with page.expect_download(timeout=UI_TIMEOUT * 1000) as info:
        page.get_by_role("button", name=name).click()
    return pd.read_csv(info.value.path())


def is_macro_f1(column: str) -> bool:
    """A model's own macro-F1 column (not the TF-IDF baseline's, not a test score)."""
    name = column.lower()
    return "macro-f1" in name and not any(w in name for w in ("baseline", "tf-idf", "test"))


def grid_after(page, heading: str):
    """The first data grid below the heading ``heading``."""
    return page.get_by_role("heading", name=heading).locator(
        "xpath=following::*[@data-testid='stDataFrame'][1]"
    )


# ---------------------------------------------------------------- (a) compare


def test_compare_a_one_vs_all_parent_and_its_relaunch(served, page, artifacts_dir):
    app, store, parent, child = served
    step = iter(range(1, 100))

    def snap(name: str) -> Path:
        return shot(page, artifacts_dir, f"{next(step):02d}-{name}")

    titles = session_titles(s for s in store.list() if s.error is None)
    jobs = {job.id: job for job in store.load(child).plan}
    expected = {
        r["model"]: r["macro_f1"] for r in job_results(store.session_dir(child), store.load(child))
    }

    # ---- Monitor of the child: the macro-F1 of each model
    page.goto(f"{app.base_url}/monitor?session={child}")
    expect_visible(page.get_by_role("heading", name="Monitor", exact=True))
    compare_button = page.get_by_role("button", name="Compare with its parent")
    expect_visible(compare_button)
    expect_visible(page.locator('[data-testid="stDataFrame"]').first)
    snap("monitor-child")
    for grid in page.locator('[data-testid="stDataFrame"]').all():  # the models table
        monitor = grid_csv(page, grid)
        f1_column = next((c for c in monitor.columns if is_macro_f1(c)), None)
        if f1_column:
            break
    assert f1_column, "no macro-F1 column on the Monitor page"
    shown: dict[str, float] = {}
    for _, row in monitor.iterrows():
        cells = {str(v) for v in row.to_numpy()}
        job_id = next((j for j, job in jobs.items() if {j, model_name(job)} & cells), None)
        if job_id is not None:
            shown[job_id] = float(row[f1_column])
    assert set(shown) == set(jobs), monitor
    for job_id, value in shown.items():
        assert abs(value - expected[job_id]) < 5e-4, (job_id, value, expected[job_id])

    # ---- "Compare with its parent": the Compare page, the family in the quick pick
    compare_button.click()
    expect_visible(page.get_by_role("heading", name="Compare", exact=True))
    quick = page.get_by_role("combobox", name="Quick pick: a session and its relaunches")
    expect(quick).to_have_value(f"{titles[parent]} + 1 relaunch(es)")
    expect_visible(page.get_by_role("heading", name="Best validation macro-F1"))
    wait_for_plot(page, F1_TITLE, UI_TIMEOUT)
    wait_idle(page)
    snap("compare-family")

    # ---- the table: the same macro-F1 per model as Monitor, one-vs-all models included
    table = grid_csv(page, grid_after(page, "Best validation macro-F1"))
    assert {titles[parent], titles[child]} <= set(table.columns), table.columns
    assert not any(parent in c or child in c for c in table.columns)  # named, never by id
    names = {model_name(job): job_id for job_id, job in jobs.items()}
    for _, row in table.iterrows():
        job_id = names[row["Model"]]
        assert abs(float(row[titles[child]]) - shown[job_id]) < 5e-4, (row, shown[job_id])
    ova = [j for j, job in jobs.items() if job.strategy.value == "one-vs-all"]
    assert len(ova) == 2 and all(shown[j] > 0 for j in ova)  # macro-F1, not a 0.000 positive F1

    # ---- the curves: every trace named by a session title (name · date) and a model name
    curves = wait_for_plot(page, F1_TITLE, UI_TIMEOUT, min_traces=2 * len(jobs))
    for name in curves["names"]:
        assert name.startswith((f"{titles[parent]} · ", f"{titles[child]} · ")), name
        assert parent not in name and child not in name
    assert any(name.endswith(" · themes: economy") for name in curves["names"])

    # ---- per label: the positive-class F1 of the one-vs-all models says so
    page.get_by_text("Per label", exact=True).click()
    expect_visible(page.get_by_role("heading", name="Best validation F1 per label"))
    labels = grid_csv(page, grid_after(page, "Best validation F1 per label"))
    themes = labels[labels["Key"] == "themes"]
    assert set(themes["Metric"]) == {f"F1 of label '{t}' (positive class)" for t in THEMES}
    snap("compare-per-label")


# ---------------------------------------------------------------- (b) predict


def test_predict_in_one_click_with_probabilities(served, page, artifacts_dir):
    app, store, parent, _ = served
    titles = session_titles(s for s in store.list() if s.status.value == "completed")

    page.goto(f"{app.base_url}/predict")
    expect_visible(page.get_by_role("heading", name="Predict", exact=True))
    wait_idle(page)
    choose_option(page, "Session", titles[parent])
    wait_idle(page)
    area = page.get_by_label("One text per line")
    area.click()
    area.press_sequentially("great wonderful market\nawful football goal", delay=10)
    page.get_by_role("button", name="Predict", exact=True).click()  # once, focus still in the box
    expect_visible(page.get_by_role("heading", name="Predictions"), 60)
    expect(page.get_by_text("at least one text")).to_have_count(0)
    page.get_by_text("Probabilities and decision thresholds").click()
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(3)
    wait_idle(page)
    shot(page, artifacts_dir, "01-predicted")

    shown = grid_csv(page, page.locator('[data-testid="stDataFrame"]').first)
    assert shown["text"].tolist() == ["great wonderful market", "awful football goal"]
    assert shown["sentiment"].isin(SENTIMENTS).all()  # the multi-class key is never blank
    for cell in shown["themes"]:
        assert cell == NO_LABEL or set(cell.split("; ")) <= set(THEMES)

    export = page_download(page, "Download CSV")
    assert export["sentiment"].tolist() == shown["sentiment"].tolist()
    probabilities = [f"sentiment: P({s})" for s in sorted(SENTIMENTS)]
    assert set(probabilities) <= set(export.columns), export.columns
    assert ((export[probabilities].sum(axis=1) - 1).abs() < 1e-3).all()
    assert (export["sentiment: decision"] == ARGMAX).all()
    for theme in THEMES:
        assert export[f"themes: P({theme})"].between(0, 1).all()
        assert (export[f"themes: threshold({theme})"] == 0.5).all()
