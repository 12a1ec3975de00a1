"""Relaunch click -> the child's first loss point drawn on the Monitor, in headless Chromium.

What a user waits for: on the Sessions page a completed session of the default model (MiniLM)
is selected and **Relaunch** is clicked; the app creates the child, starts its worker, switches
to the Monitor, and the Monitor's Loss chart (``LOSS_TITLE``) shows the child's first
training-loss point. The clock runs from just before playwright dispatches the click to the
moment the chart holds a point, checked inside the page every ``POLL_MS`` ms.

- ``relaunch_to_chart_s``: nothing else trains (target <= 6 s); median of the runs.
- ``relaunch_to_chart_busy_s``: another MiniLM session trains meanwhile, with
  ARENA_MAX_WORKERS=2 so that the relaunch is not queued behind it (with the default of 1 it
  waits for that session to end, and the Monitor says its place in the queue); no target.

Phases of every run (``details``): click -> worker process created (page rerun, ``relaunch()``,
spawn; the process's start time) -> worker running (interpreter, CLI, locks, slot) -> training
libraries loaded (data read, torch and transformers imported) -> model ready (texts tokenized,
weights, Trainer) -> first loss line written (Trainer set-up and the first optimizer step) ->
drawn (the Monitor's refresh tick, ``REFRESH_SECONDS``, and the render). Worker phases come from
worker.log. ``cpu_s`` says who used the two cores meanwhile (worker, other workers, server,
Chromium, the rest of the machine): on a shared machine, whether the run was quiet.

Before each click the tab opens the parent's Monitor (the page's code and plotly are loaded, as
for a user who watched the parent train), then the Sessions page, filtered to the parent. The
parent trains for real, one epoch to keep the set-up short (the child inherits it; nothing before
the first step depends on it). Each child is cancelled after its point and moved to the trash,
so every run starts from the same list. Server, browser and waits: ``tests/browser_support.py``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from typing import Any

from .common import ROOT, median, offline_env, rounded, run_worker, scratch, worker_log_events

SIZES = {
    "smoke": {"rows": 60, "model": "tiny", "runs": 1, "busy_runs": 1},
    "small": {"rows": 300, "model": "minilm", "runs": 3, "busy_runs": 3},
    "full": {"rows": 1000, "model": "minilm", "runs": 5, "busy_runs": 5},
}
TARGET_S = 6.0
TIMEOUT_S = 180.0
POLL_MS = 25
VIEWPORT = {"width": 1400, "height": 1000}
EVENTS = {  # worker.log lines that end each phase (arena_core/run/worker.py, training/trainer.py)
    "worker_running": r"running in slot",
    "libraries_loaded": r"training libraries loaded",
    "model_ready": r": model ready",
}
# The chart titled ``title`` holds at least one point: returns the page's clock (ms) then.
FIRST_POINT_JS = """(title) => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const t = gd.layout && gd.layout.title;
    const raw = typeof t === 'string' ? t : ((t && t.text) || '');
    if (raw.replace(/<[^>]*>/g, '').trim() !== title) continue;
    if ((gd.data || []).some((tr) => (tr.x || []).length > 0)) return Date.now();
  }
  return false;
}"""


def _browser_support() -> Any:
    """tests/browser_support.py (shared with the browser tests, not copied)."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import browser_support

    if browser_support.chromium_path() is None:
        raise RuntimeError("no Chromium found (apt-get install -y chromium, or $ARENA_CHROMIUM)")
    return browser_support


def _select_parent(bs: Any, page: Any, parent: str) -> Any:
    """The Sessions page filtered to the parent, its row selected; returns the Relaunch button."""
    from playwright.sync_api import expect

    bs.goto_page(page, "Sessions", TIMEOUT_S)
    search = page.get_by_role("textbox", name="Search")
    search.fill(parent)
    search.press("Enter")
    bs.wait_for_text(page, "1 of ", TIMEOUT_S)
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid).to_be_visible(timeout=TIMEOUT_S * 1000)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # row marker of the first row
    button = page.get_by_role("button", name="Relaunch", exact=True)
    expect(button).to_be_enabled(timeout=TIMEOUT_S * 1000)
    selected = page.locator("code").filter(has_text=parent).first  # the details' id line
    expect(selected).to_be_visible(timeout=TIMEOUT_S * 1000)
    bs.wait_idle(page, TIMEOUT_S)
    return button


def _phases(store: Any, child: str, clicked: float) -> dict[str, Any]:
    """Seconds from the click to the end of each phase (absent when not found)."""
    import json

    import psutil

    from arena_core.store import paths
    from arena_core.store.records import read_progress

    folder = store.session_dir(child)
    found: dict[str, float] = {}
    with contextlib.suppress(psutil.Error, TypeError, ValueError):
        found["worker_created"] = psutil.Process(read_progress(folder).pid).create_time()
    found.update(worker_log_events(folder / paths.WORKER_LOG, EVENTS))
    for line in (folder / paths.METRICS).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("kind") == "train":
            found["first_line_written"] = float(record["time"])
            break
    return {f"{name}_s": rounded(when - clicked) for name, when in found.items()}


def _cpu_snapshot() -> dict[int, tuple[float, float, str]]:
    """Every process of the machine: pid -> (start time, CPU seconds so far, command line)."""
    import psutil

    found = {}
    for proc in psutil.process_iter(["create_time", "cmdline", "cpu_times"]):
        times = proc.info["cpu_times"]
        if times is not None:
            line = " ".join(proc.info["cmdline"] or [])
            found[proc.pid] = (proc.info["create_time"], times.user + times.system, line)
    return found


def _cpu_used(before: dict, after: dict, worker_pid: int | None) -> dict[str, float]:
    """CPU seconds spent between two snapshots: the child's worker, other workers (the busy
    session), the Streamlit server, Chromium and playwright, and the rest of the machine."""
    used = dict.fromkeys(("worker", "other_workers", "server", "browser", "rest"), 0.0)
    for pid, (started, cpu, line) in after.items():
        if pid in before and before[pid][0] == started:
            cpu -= before[pid][1]
        if pid == worker_pid:
            group = "worker"
        elif "-m arena_core" in line:
            group = "other_workers"
        elif "streamlit" in line:
            group = "server"
        elif "chromium" in line or "playwright" in line:
            group = "browser"
        else:
            group = "rest"
        used[group] += max(cpu, 0.0)
    return {name: rounded(value) for name, value in used.items()}


def _session_ids(store: Any) -> set[str]:
    return {p.name for p in store.sessions_root.iterdir() if p.is_dir() and p.name[0] != "."}


def _end_child(store: Any, child: str) -> None:
    """Cancel the child and move it to the trash: the next run sees the same list."""
    from arena_core.run import control

    with contextlib.suppress(Exception):  # an ended worker is fine
        control.cancel(store, child, grace=60)
    with contextlib.suppress(Exception):
        store.trash(child)


def click_once(bs: Any, chromium: Any, url: str, store: Any, parent: str) -> dict[str, Any]:
    """One relaunch from the Sessions page; seconds to the first point and the phases."""
    from playwright.sync_api import expect

    from arena_core.store.records import read_progress
    from arena_core.viz.charts import LOSS_TITLE

    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    before = _session_ids(store)
    child = None
    try:
        page.goto(f"{url}/monitor?session={parent}")
        bs.wait_for_plot(page, LOSS_TITLE, TIMEOUT_S)
        button = _select_parent(bs, page, parent)
        cpu_before = _cpu_snapshot()
        clicked = time.time()
        button.click()
        handle = page.wait_for_function(
            FIRST_POINT_JS, arg=LOSS_TITLE, polling=POLL_MS, timeout=TIMEOUT_S * 1000
        )
        drawn = float(handle.json_value()) / 1000
        cpu_after = _cpu_snapshot()
        [child] = _session_ids(store) - before
        expect(page).to_have_url(re.compile(f"session={re.escape(child)}"))  # the child's Monitor
        points = bs.plot_data(page, LOSS_TITLE)["points"]
        worker = read_progress(store.session_dir(child)).pid
        return {
            "latency_s": rounded(drawn - clicked),
            "points": points,
            "child": child,
            **_phases(store, child, clicked),
            "cpu_s": _cpu_used(cpu_before, cpu_after, worker),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        context.close()
        if child is None:  # the click did not get as far as the chart: still clean up
            child = next(iter(_session_ids(store) - before), None)
        if child:
            _end_child(store, child)


@contextlib.contextmanager
def _workers(limit: int):
    """ARENA_MAX_WORKERS for the server and every worker started meanwhile."""
    from arena_core import settings

    old = os.environ.get(settings.MAX_WORKERS)
    os.environ[settings.MAX_WORKERS] = str(limit)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(settings.MAX_WORKERS, None)
        else:
            os.environ[settings.MAX_WORKERS] = old


@contextlib.contextmanager
def _busy_session(store: Any, spec: dict[str, Any]):
    """Another session training (MiniLM, many epochs) for as long as the block runs."""
    from arena_core.run import control
    from arena_core.session.manifest import TrainingConfig
    from arena_core.store import paths
    from arena_core.store.metrics_log import TRAIN, MetricsTail

    from .data import create_session

    # the most epochs allowed and no early stop: it trains through every busy run
    config = TrainingConfig(model=spec["model"], epochs=100, early_stopping_patience=0)
    busy = create_session(store, spec["rows"], ("category",), config, name="busy", seed=1)
    control.launch(store, busy)
    try:
        tail = MetricsTail(store.session_dir(busy) / paths.METRICS)
        deadline = time.time() + TIMEOUT_S
        while not any(r.get("kind") == TRAIN for r in tail.poll()):
            if time.time() > deadline:
                raise RuntimeError("the busy session never started training")
            time.sleep(0.2)
        yield busy
    finally:
        _end_child(store, busy)


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Train a parent, then time ``runs`` quiet relaunches and ``busy_runs`` busy ones."""
    from arena_core.session.manifest import SessionStatus, TrainingConfig
    from arena_core.store.session_store import SessionStore

    from .chart_lag import refresh_seconds
    from .data import create_session

    bs = _browser_support()
    with scratch("relaunch-chart") as folder, _workers(2):
        home = folder / "home"
        store = SessionStore(home)
        config = TrainingConfig(model=spec["model"], epochs=1)
        parent = create_session(store, spec["rows"], ("category",), config, name="parent")
        seconds, code = run_worker(home, parent, timeout=1800)
        if store.status(parent) is not SessionStatus.COMPLETED:
            raise RuntimeError(f"the parent did not complete (exit {code}): {store.status(parent)}")
        with bs.running_app(home, log_dir=folder) as app, bs.browser() as chromium:
            url = app.base_url
            quiet = [click_once(bs, chromium, url, store, parent) for _ in range(spec["runs"])]
            with _busy_session(store, spec):
                busy = [
                    click_once(bs, chromium, url, store, parent) for _ in range(spec["busy_runs"])
                ]
    return {
        "parent_train_s": rounded(seconds),
        "refresh_s": refresh_seconds(),
        "quiet": quiet,
        "busy": busy,
    }


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each phase, and of each CPU group (``cpu_s``), over the runs."""
    keys = dict.fromkeys(k for run in runs for k in run if k.endswith("_s") and k != "cpu_s")
    found: dict[str, Any] = {k: rounded(median([run.get(k) for run in runs])) for k in keys}
    groups = dict.fromkeys(g for run in runs for g in run.get("cpu_s", {}))
    found["cpu_s"] = {g: rounded(median([run["cpu_s"].get(g) for run in runs])) for g in groups}
    return found


def run(size: str = "small") -> dict[str, Any]:
    offline_env()
    spec = SIZES[size]
    found = measure(spec)
    quiet, busy = _medians(found["quiet"]), _medians(found["busy"])
    return {
        "figures": {
            "relaunch_to_chart_s": quiet.get("latency_s"),
            "relaunch_to_chart_busy_s": busy.get("latency_s"),
        },
        "details": {
            "size": spec,
            "target_s": TARGET_S,
            "phase_medians": {"quiet": quiet, "busy": busy},
            **found,
        },
    }
