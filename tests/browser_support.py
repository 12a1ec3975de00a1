"""Real-browser test support: a Streamlit server per test, headless Chromium, waits, cleanup.

The server runs as a subprocess in its own process group with a temporary ARENA_HOME; on
teardown it is stopped and every training worker it started (they run detached, in their own
process groups, on purpose) is cancelled, then killed if needed, so no process outlives a test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tool_support import missing_tool

from arena_core.store import paths
from arena_core.store.status import pid_alive

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_ENV = "ARENA_REQUIRE_BROWSER"  # "1" (CI): a missing browser fails instead of skipping
CHROMIUM_ENV = "ARENA_CHROMIUM"  # optional path to a Chromium binary
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 60.0
VIEWPORT = {"width": 1400, "height": 1000}


# ---------------------------------------------------------------- finding the browser


def chromium_path() -> str | None:
    """The Chromium binary to drive: $ARENA_CHROMIUM, else the first candidate on this machine."""
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        return override if Path(override).is_file() else None
    for candidate in CHROMIUM_CANDIDATES:
        found = candidate if Path(candidate).is_file() else shutil.which(candidate)
        if found:
            return found
    return None


def require_browser() -> str:
    """The Chromium path; skips loudly when there is none, fails where tools are required
    ($ARENA_REQUIRE_BROWSER=1, or see tool_support: $ARENA_REQUIRE_TOOLS=1, $CI=true)."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = (
            "the 'playwright' Python package is missing: "
            "pip install -r requirements-dev.txt (never 'playwright install': we use Chromium)"
        )
    path = chromium_path()
    if problem is None and path is None:
        problem = (
            f"no Chromium binary found (looked for ${CHROMIUM_ENV}, "
            f"{', '.join(CHROMIUM_CANDIDATES)}): install it with 'apt-get install -y chromium'"
        )
    if problem is None:
        return str(path)
    missing_tool(f"browser tests: {problem}", also=REQUIRE_ENV)


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    """A headless Chromium (playwright Browser), closed on exit."""
    path = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


# ---------------------------------------------------------------- the Streamlit server


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class App:
    """A running dashboard: its URL, process and log file."""

    base_url: str
    process: subprocess.Popen
    log_path: Path
    home: Path

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server like Ctrl-C would (its process group only); workers are not touched."""
        _stop_group(self.process.pid, self.process, timeout)


def _stop_group(pgid: int, process: subprocess.Popen | None, timeout: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
        if process is not None:
            try:
                process.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                continue
        else:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and pid_alive(pgid):
                time.sleep(0.1)
            if not pid_alive(pgid):
                return


def _wait_healthy(app: App, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = f"{app.base_url}/_stcore/health"
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise RuntimeError(
                f"streamlit exited with code {app.process.returncode}:\n{app.log_tail()}"
            )
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.read().decode().strip() == "ok":
                return
        time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer {url} within {timeout:.0f} s:\n{app.log_tail()}")


def start_app(home: Path, port: int | None = None, log_dir: Path | None = None) -> App:
    """Start ``streamlit run app.py`` on a free port with ARENA_HOME=home; waits until healthy."""
    port = port or free_port()
    log_path = Path(log_dir or home.parent) / f"streamlit-{port}.log"
    env = dict(os.environ)
    env.update(
        ARENA_HOME=str(home),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stopped as one, like Ctrl-C would
        )
    app = App(f"http://localhost:{port}", process, log_path, Path(home))
    try:
        _wait_healthy(app, SERVER_START_TIMEOUT)
    except BaseException:
        app.stop()
        raise
    return app


def session_ids(home: Path) -> list[str]:
    root = Path(home) / paths.SESSIONS_DIR
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def worker_pid(home: Path, session_id: str) -> int | None:
    """The worker pid recorded in the session's progress file, if any."""
    from arena_core.store.records import read_progress

    pid = read_progress(Path(home) / paths.SESSIONS_DIR / session_id).pid
    return int(pid) if pid else None


def processes_using(home: Path) -> list[int]:
    """Pids of streamlit/arena_core processes started with ARENA_HOME=home or '--home home'."""
    import psutil

    wanted = str(home)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.info["pid"] == os.getpid():
            continue
        try:
            cmdline = proc.info["cmdline"] or []
            ours = any("arena_core" in part or "streamlit" in part for part in cmdline)
            uses = ours and (wanted in cmdline or proc.environ().get(paths.ENV_HOME) == wanted)
        except (psutil.Error, OSError):
            continue
        if uses:
            found.append(proc.info["pid"])
    return found


def stop_workers(home: Path, grace: float = 10.0) -> list[int]:
    """Cancel every session still training in ``home``, then kill any process left using it.

    Returns the pids that had to be killed (a clean run returns []).
    """
    from arena_core.run import control
    from arena_core.store.session_store import SessionStore

    store = SessionStore(home)
    for session_id in session_ids(home):
        pid = worker_pid(home, session_id)
        if pid and pid_alive(pid):
            with contextlib.suppress(Exception):  # best effort: the sweep below is the guarantee
                control.cancel(store, session_id, grace=grace)
    killed = []
    for pid in processes_using(home):
        killed.append(pid)
        try:
            pgid = os.getpgid(pid)
        except ProcessLookupError:
            continue
        # A worker leads its own group; anything else (never this test) is killed alone.
        if pgid == pid and pgid != os.getpgid(0):
            _stop_group(pgid, None, 5.0)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return killed


@contextlib.contextmanager
def running_app(home: Path, log_dir: Path | None = None) -> Iterator[App]:
    """A dashboard for the test's ARENA_HOME; on exit the server and its workers are gone."""
    Path(home).mkdir(parents=True, exist_ok=True)
    app = start_app(home, log_dir=log_dir)
    try:
        yield app
    finally:
        app.stop()
        stop_workers(home)
    assert_no_leftovers(home)


def assert_no_leftovers(home: Path) -> None:
    """Fail when a server or worker of ``home`` still runs after the cleanup."""
    time.sleep(0.2)
    left = processes_using(home)
    assert not left, f"processes of {home} survived the test: {left}"


# ---------------------------------------------------------------- page helpers


def wait_for_text(page: Any, text: str, timeout: float = 30.0) -> Any:
    """The first element showing ``text`` once it is visible (raises after ``timeout`` s)."""
    from playwright.sync_api import expect

    locator = page.get_by_text(text).first
    expect(locator).to_be_visible(timeout=timeout * 1000)
    return locator


def expect_visible(locator: Any, timeout: float = 30.0) -> None:
    """Wait until ``locator`` is visible (raises after ``timeout`` s)."""
    from playwright.sync_api import expect

    expect(locator).to_be_visible(timeout=timeout * 1000)


def wait_idle(page: Any, timeout: float = 30.0) -> None:
    """Wait until Streamlit finished the current run (its 'running' indicator is gone)."""
    from playwright.sync_api import expect

    page.wait_for_timeout(300)  # let a just-triggered rerun start
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=timeout * 1000)


def goto_page(page: Any, title: str, timeout: float = 30.0) -> None:
    """Open a page through the sidebar navigation (keeps the browser session's state)."""
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.get_by_role("link", name=title, exact=True).click()
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible(
        timeout=timeout * 1000
    )


def choose_option(page: Any, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox whose aria-label is ``label`` (BaseWeb combobox)."""
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()


PLOT_DATA_JS = """(title) => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const t = gd.layout && gd.layout.title;
    const raw = typeof t === 'string' ? t : ((t && t.text) || '');
    if (raw.replace(/<[^>]*>/g, '').trim() !== title) continue;  // Streamlit wraps it in <b>
    const traces = (gd.data || []).map((tr) => ({name: tr.name || '', n: (tr.x || []).length}));
    return {traces: traces.length, points: traces.reduce((a, tr) => a + tr.n, 0), names: traces.map((tr) => tr.name)};
  }
  return null;
}"""


def plot_data(page: Any, title: str) -> dict[str, Any] | None:
    """{traces, points, names} of the plotly chart titled ``title`` on the page, or None."""
    return page.evaluate(PLOT_DATA_JS, title)


def wait_for_plot(
    page: Any, title: str, timeout: float, more_than: int = 0, min_traces: int = 1
) -> dict[str, Any]:
    """Poll until the chart titled ``title`` shows more than ``more_than`` points in at least
    ``min_traces`` traces. Polling, because a rerun (a status change, a new pick) redraws the
    charts a moment after the rest of the page: one look right after a heading can miss them."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = plot_data(page, title)
        if last and last["points"] > more_than and last["traces"] >= min_traces:
            return last
        page.wait_for_timeout(500)
    raise AssertionError(
        f"chart {title!r} did not show more than {more_than} points in {min_traces} trace(s) "
        f"within {timeout:.0f} s (last seen: {last})"
    )


SETTLED_JS = """() => {
  const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
  return document.querySelectorAll('[data-testid="stSkeleton"]').length === 0
    && Array.from(charts).every((c) => c.querySelector('.js-plotly-plot .main-svg'));
}"""
FULL_HEIGHT_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  return main ? main.scrollHeight : document.documentElement.scrollHeight;
}"""
MAX_SHOT_HEIGHT = 5000


def shot(page: Any, folder: Path, name: str) -> Path:
    """Save folder/name.png showing the whole page (Streamlit scrolls inside its main area, so
    the viewport is stretched to the content's height for the shot, then restored)."""
    path = Path(folder) / f"{name}.png"
    size = page.viewport_size or VIEWPORT
    height = min(int(page.evaluate(FULL_HEIGHT_JS) or 0), MAX_SHOT_HEIGHT)
    if height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": height})
        page.wait_for_timeout(800)  # charts and grids re-layout to the new size
    with contextlib.suppress(Exception):  # a shot of a half-drawn page beats no shot
        page.wait_for_function(SETTLED_JS, timeout=10_000)
    try:
        page.screenshot(path=str(path))
    finally:
        if height > size["height"]:
            page.set_viewport_size(size)
    return path
