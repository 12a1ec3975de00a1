"""End-to-end in a real browser (headless Chromium): upload, strategies, live loss, relaunch,
and a server restart that re-attaches to a running worker.

Screenshots of every step go to test-artifacts/<test name>/NN-step.png. Without Chromium these
tests skip with a loud reason; with ARENA_REQUIRE_BROWSER=1 (CI) they fail instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import (
    assert_no_leftovers,
    choose_option,
    expect_visible,
    goto_page,
    pid_alive,
    session_ids,
    shot,
    start_app,
    stop_workers,
    wait_for_plot,
    wait_for_text,
    wait_idle,
    worker_pid,
)

from arena_core.data.demo import demo_path
from arena_core.session.plan import plan
from arena_core.store.session_store import SessionStore
from arena_core.viz.charts import LOSS_TITLE
from ui.plan_preview import STRATEGY_TEXT

try:
    from playwright.sync_api import expect
except ImportError:  # require_browser() skips (or fails in CI) with the reason
    expect = None

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

TRAIN_TIMEOUT = 120  # s: a tiny-model session of 5 models takes ~45 s on 2 busy cores
UI_TIMEOUT = 30  # s: one page render
STRATEGIES = {"sentiment": "multi-class", "themes": "one-vs-all"}


def expect_count(locator, count: int, timeout: float = UI_TIMEOUT) -> None:
    expect(locator).to_have_count(count, timeout=timeout * 1000)


def status_heading(page, status: str):
    """The Monitor page's status line ('#### <icon> status')."""
    return page.locator("h4").filter(has_text=status).first


def wait_status(page, status: str, timeout: float = TRAIN_TIMEOUT) -> None:
    expect_visible(status_heading(page, status), timeout)


def select_first_session_row(page) -> None:
    """Tick the first row of the Sessions table (a canvas grid: click its row-marker column)."""
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect_visible(grid)
    box = grid.bounding_box()
    assert box, "the sessions table has no box"
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # header ~35 px, rows ~35 px


# ---------------------------------------------------------------- the whole user flow


def test_upload_strategies_live_loss_and_relaunch(home, app, page, artifacts_dir):
    step = iter(range(1, 100))

    def snap(name: str) -> Path:
        return shot(page, artifacts_dir, f"{next(step):02d}-{name}")

    # ---- Home
    page.goto(app.base_url)
    expect_visible(page.get_by_role("button", name="Try the demo"))
    snap("home")

    # ---- Dataset: upload the bundled demo file through the uploader
    goto_page(page, "Dataset")
    page.locator("input[type=file]").set_input_files(str(demo_path()))
    wait_for_text(page, "demo_annotations.csv: 240 rows, 3 columns", UI_TIMEOUT)
    expect_visible(page.get_by_role("heading", name="Key: sentiment"))
    expect_visible(page.get_by_role("heading", name="Key: themes"))
    expect_count(page.locator(".js-plotly-plot"), 2)  # one label chart per key
    wait_idle(page)
    snap("dataset-uploaded")

    # ---- Strategy: sentiment multi-class, themes one-vs-all, tiny model, 1 epoch
    page.get_by_role("button", name="Continue to Strategy").click()
    expect_visible(page.get_by_role("heading", name="Strategy", exact=True))
    for key, strategy in STRATEGIES.items():
        shown = STRATEGY_TEXT[strategy]  # the option as it reads: 'one-vs-all (one yes/no ...)'
        choose_option(page, f"Strategy for {key}", shown)
        wait_idle(page)
        expect(page.get_by_role("combobox", name=f"Strategy for {key}")).to_have_value(shown)
    page.get_by_text("tiny (quick demo/tests)").click()
    wait_idle(page)
    page.get_by_text("Hyper-parameters").click()
    epochs = page.get_by_role("spinbutton", name="Epochs")
    epochs.fill("1")
    epochs.press("Enter")
    wait_idle(page)
    expect_visible(page.get_by_role("heading", name="This session will train 5 models"))
    snap("strategy-chosen")
    page.get_by_role("button", name="Launch").click()

    # ---- Monitor: the live Loss chart appears, then grows
    expect_visible(page.get_by_role("heading", name="Monitor", exact=True))
    first = wait_for_plot(page, LOSS_TITLE, TRAIN_TIMEOUT)
    snap("monitor-loss-first")
    grown = wait_for_plot(page, LOSS_TITLE, TRAIN_TIMEOUT, more_than=first["points"])
    assert grown["points"] > first["points"]
    snap("monitor-loss-grown")
    wait_status(page, "completed")
    # one training curve per model at least; the completed rerun redraws the chart, so poll
    final = wait_for_plot(page, LOSS_TITLE, UI_TIMEOUT, min_traces=5)
    snap("monitor-completed")

    [parent_id] = session_ids(home)
    store = SessionStore(home)
    parent = store.load(parent_id)
    assert parent.training.model == "tiny" and parent.training.epochs == 1
    assert {(job.key, job.strategy.value) for job in plan(parent)} == set(STRATEGIES.items())

    # ---- Sessions: select the session, relaunch it
    goto_page(page, "Sessions")
    select_first_session_row(page)
    relaunch = page.get_by_role("button", name="Relaunch", exact=True)
    expect_visible(relaunch)
    expect_visible(page.get_by_text(parent_id).first)
    snap("sessions-selected")
    relaunch.click()

    # ---- Monitor of the child: it trains (its own Loss curves appear)
    expect_visible(page.get_by_role("heading", name="Monitor", exact=True))
    expect_visible(page.get_by_role("button", name="Compare with its parent"))
    children = [s for s in session_ids(home) if s != parent_id]
    assert len(children) == 1, session_ids(home)
    child_id = children[0]
    expect(page.get_by_role("combobox", name="Session", exact=True)).to_have_value(
        re.compile(re.escape(f"{parent.name} · relaunch 1"))
    )
    child_plot = wait_for_plot(page, LOSS_TITLE, TRAIN_TIMEOUT)
    snap("child-monitor-training")
    assert store.load(child_id).parent == parent_id
    assert child_plot["points"] < final["points"], "the child's chart shows the parent's data"

    # ---- Sessions lists both, newest (the child) first, with its parent
    goto_page(page, "Sessions")
    expect_visible(page.get_by_text("2 of 2 sessions"))
    select_first_session_row(page)
    expect_visible(page.get_by_text(f"Relaunch of {parent.name}"))
    expect_visible(page.get_by_text(child_id).first)
    snap("sessions-child")
    # The child keeps training; the app fixture cancels its worker and checks nothing survives.


# ---------------------------------------------------------------- server restart (issue 7.3)


def test_server_restart_reattaches_to_running_worker(home, page, artifacts_dir, tmp_path):
    """Stopping the server (Ctrl-C) leaves the worker training; a new server shows it live."""
    step = iter(range(1, 100))

    def snap(name: str) -> Path:
        return shot(page, artifacts_dir, f"{next(step):02d}-{name}")

    home.mkdir(parents=True)
    try:
        # ---- first server: the demo, tiny model, launched from the browser
        first = start_app(home, log_dir=tmp_path)
        try:
            page.goto(first.base_url)
            page.get_by_role("button", name="Try the demo").click()
            expect_visible(page.get_by_role("heading", name="Strategy", exact=True))
            page.get_by_text("tiny (quick demo/tests)").click()
            wait_idle(page)
            expect_visible(page.get_by_role("heading", name="This session will train 5 models"))
            snap("strategy-demo")
            page.get_by_role("button", name="Launch").click()
            wait_status(page, "running")
            snap("monitor-running")
            [session_id] = session_ids(home)
            pid = worker_pid(home, session_id)
            assert pid and pid_alive(pid), f"no live worker for {session_id} (pid {pid})"
        finally:
            first.stop()
        assert first.process.poll() is not None, "the first server still runs"
        status = SessionStore(home).load(session_id).status.value
        assert pid_alive(pid) or status == "completed", (
            f"stopping the server killed the worker {pid} (session status {status})"
        )

        # ---- second server, same ARENA_HOME: the session is found live, with its curves
        second = start_app(home, log_dir=tmp_path)
        try:
            page.goto(second.base_url)
            expect_visible(page.get_by_role("heading", name="Latest sessions"))
            name = SessionStore(home).load(session_id).name
            expect_visible(page.get_by_text(name, exact=True).first)
            snap("home-after-restart")
            page.goto(f"{second.base_url}/monitor?session={session_id}")  # a refreshed tab
            expect_visible(page.get_by_role("heading", name="Monitor", exact=True))
            expect(page.get_by_role("combobox", name="Session", exact=True)).to_have_value(
                re.compile(re.escape(name))
            )
            expect_visible(status_heading(page, "running").or_(status_heading(page, "completed")))
            wait_for_plot(page, LOSS_TITLE, TRAIN_TIMEOUT)
            snap("monitor-after-restart")
            goto_page(page, "Sessions")
            expect_visible(page.get_by_text("1 of 1 sessions"))
            snap("sessions-after-restart")
        except BaseException:
            shot(page, artifacts_dir, "99-failure")  # while the server still answers
            raise
        finally:
            second.stop()
    finally:
        stop_workers(home)
    assert_no_leftovers(home)
    assert not pid_alive(pid), f"worker {pid} survived the test"


# ---------------------------------------------------------------- deep links (pages live in app_pages/,
# not pages/: a pages/ folder beside app.py puts a fresh server in Streamlit's v1 multipage mode)


def test_deep_link_on_a_fresh_server_shows_the_app_navigation(app, page, artifacts_dir):
    """A refreshed tab (or a shared link) on a just-started server gets the app's own sidebar."""
    page.goto(f"{app.base_url}/sessions")
    expect_visible(page.get_by_role("heading", name="Sessions", exact=True))
    wait_idle(page)
    shot(page, artifacts_dir, "01-deep-link-sessions")
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav.get_by_text("Results", exact=True)).to_be_visible(timeout=5000)
    expect(nav.get_by_role("link", name="app", exact=True)).to_have_count(0)
