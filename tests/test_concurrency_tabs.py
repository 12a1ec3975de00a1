"""Two browser tabs (two AppTest sessions of the Sessions page) acting on the same session.

Both tabs are rendered first, then both click: what two people (or one person with two tabs)
do when neither has refreshed. Resume must start exactly one worker and tell the second tab
why it did not start another. Relaunch creates a new session per click by design (a relaunch
is a new session on the parent's data); each gets its own single worker, the parent is not
touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from apptest_support import nav_app
from factories import make_session

from arena_core.errors import ArenaError
from arena_core.run import control
from arena_core.session.manifest import SessionStatus
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_json
from arena_core.store.records import read_progress
from arena_core.store.session_store import SessionStore
from arena_core.store.status import ACTIVE
from ui.common import MONITOR_SESSION

PAGE = "sessions"
TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def workers_of(session_id: str) -> list[psutil.Process]:
    """Live processes running ``python -m arena_core ... run <session_id>``."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] != psutil.STATUS_ZOMBIE and cmdline[-2:] == ["run", session_id]:
            found.append(process)
    return found


@pytest.fixture
def cleanup(store: SessionStore):
    """Cancel every worker the test started (never one naming this process)."""
    yield
    for summary in store.list():
        progress = read_progress(store.session_dir(summary.id))
        if progress.pid == os.getpid():
            continue
        with contextlib.suppress(ArenaError):
            if store.status(summary.id) in ACTIVE or progress.status == control.LAUNCHING:
                control.cancel(store, summary.id, grace=1)
        for process in workers_of(summary.id):  # belt and braces: nothing survives the test
            with contextlib.suppress(psutil.Error):
                process.kill()


def tab(tmp_path, session_id: str):
    """A Sessions page in its own browser session, with ``session_id``'s row clicked."""
    at = nav_app(tmp_path, PAGE, timeout=60).run()
    frame = next(d for d in at.dataframe if d.key == "ses_table").value
    row = list(frame["id"]).index(session_id)
    at.session_state["ses_table"] = {"selection": {"rows": [row], "columns": []}}
    return at.run()


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def resumable_session(store: SessionStore, status: str) -> str:
    """A session that reads ``status`` (failed, cancelled or interrupted), never trained."""
    if status == "failed":
        return make_session(store, "failed")
    if status == "cancelled":
        session_id = make_session(store, "failed", name="cancelled")
        store.set_status(session_id, SessionStatus.CANCELLED, "cancelled by user")
        return session_id
    session_id = make_session(store, "running", name="interrupted")
    path = store.session_dir(session_id) / paths.PROGRESS
    progress = json.loads(path.read_text("utf-8"))
    progress.update(pid=999_999_999, heartbeat=time.time() - 3600)  # its worker died long ago
    atomic_write_json(path, progress)
    return session_id


# A browser tab in its own process (Streamlit's AppTest keeps per-process globals, so two
# tabs acting at the same instant need two processes). It renders the Sessions page with the
# session's row clicked, says "ready", waits for "go" on stdin, clicks, and prints what it shows.
TAB = r"""
import json, sys
from pathlib import Path
tmp, session_id, button = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path.insert(0, sys.argv[4])
from apptest_support import nav_app
at = nav_app(tmp, "sessions", timeout=60).run()
frame = next(d for d in at.dataframe if d.key == "ses_table").value
at.session_state["ses_table"] = {
    "selection": {"rows": [list(frame["id"]).index(session_id)], "columns": []}
}
at.run()
enabled = not at.button(key=button).disabled
at.button(key=button).click()
print("ready", flush=True)
sys.stdin.readline()
at.run()
state = at.session_state
print(json.dumps({
    "enabled": enabled,
    "errors": [str(e.value) for e in at.error],
    "exceptions": [str(e.value) for e in at.exception],
    "monitor": state["monitor_session"] if "monitor_session" in state else None,
}), flush=True)
"""


def tabs_click_together(home: Path, tmp_path: Path, session_id: str, button: str) -> list[dict]:
    """Two tab processes click ``button`` on ``session_id`` at the same instant."""
    nav_app(tmp_path, PAGE)  # write the navigation files once, before both tabs read them
    env = {**os.environ, "ARENA_HOME": str(home)}  # the installed package; ui/ from cwd
    command = [sys.executable, "-c", TAB, str(tmp_path), session_id, button, str(TESTS)]
    tabs = [
        subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        for _ in range(2)
    ]
    try:
        for process in tabs:
            line = process.stdout.readline()
            assert line.strip() == "ready", line + process.stderr.read()
        for process in tabs:
            process.stdin.write("go\n")
            process.stdin.flush()
        results = []
        for process in tabs:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for process in tabs:
            if process.poll() is None:
                process.kill()


@pytest.mark.parametrize("status", ["failed", "cancelled", "interrupted"])
def test_two_tabs_resuming_one_after_the_other_start_one_worker(store, tmp_path, cleanup, status):
    """The second tab clicks on a page rendered before the first click: Streamlit drops a
    click on a button that is disabled by the time the page reruns, so the second tab just
    shows the session queued (with Cancel), and no second worker starts."""
    session_id = resumable_session(store, status)
    assert store.status(session_id).value == status
    first, second = tab(tmp_path, session_id), tab(tmp_path, session_id)
    for at in (first, second):
        assert not at.exception
        assert not at.button(key="ses_resume").disabled, "both tabs offer Resume"

    first.button(key="ses_resume").click().run()
    second.button(key="ses_resume").click().run()

    assert not first.exception and not second.exception
    assert texts(first.error) == [] and texts(second.error) == []
    assert len(workers_of(session_id)) == 1, "exactly one worker"
    assert store.status(session_id) in ACTIVE
    assert second.button(key="ses_resume").disabled
    assert not second.button(key="ses_cancel").disabled
    assert any(" queued " in c or " running " in c for c in texts(second.caption))
    time.sleep(1.0)  # a second worker, had one been spawned, would be alive by now
    assert len(workers_of(session_id)) == 1


def test_two_tabs_resuming_at_the_same_instant_start_one_worker(store, home, tmp_path, cleanup):
    session_id = resumable_session(store, "failed")
    results = tabs_click_together(home, tmp_path, session_id, "ses_resume")
    assert all(r["enabled"] for r in results) and not any(r["exceptions"] for r in results)
    assert len(workers_of(session_id)) == 1, "exactly one worker"
    errors = sorted((r["errors"] for r in results), key=len)
    # The tab that lost the race says the session already runs (or, had its page rerun after
    # the other launch, its click was dropped with the button disabled: no message).
    assert errors[0] == [] and len(errors[1]) <= 1, errors
    assert all("already" in e for e in errors[1]), errors
    time.sleep(1.0)
    assert len(workers_of(session_id)) == 1


def test_two_tabs_relaunching_one_after_the_other_act_on_the_session_they_show(
    store, tmp_path, cleanup
):
    parent = make_session(store, "completed", name="parent")
    parent_manifest = (store.session_dir(parent) / paths.MANIFEST).read_bytes()
    first, second = tab(tmp_path, parent), tab(tmp_path, parent)
    for at in (first, second):
        assert not at.button(key="ses_relaunch").disabled

    first.button(key="ses_relaunch").click().run()
    second.button(key="ses_relaunch").click().run()

    assert not first.exception and not second.exception
    relaunched = {s.id: s.parent for s in store.list() if s.parent}
    assert set(relaunched.values()) == {parent}, f"a click acted on another session: {relaunched}"
    children = [s for s in store.list() if s.parent == parent]
    assert first.session_state[MONITOR_SESSION] in {c.id for c in children}
    for child in children:  # one per accepted click, by design; each with one worker
        assert len(workers_of(child.id)) == 1, child.id
    assert (store.session_dir(parent) / paths.MANIFEST).read_bytes() == parent_manifest
    assert workers_of(parent) == []


def test_two_tabs_relaunching_at_the_same_instant_create_one_child_each(
    store, home, tmp_path, cleanup
):
    parent = make_session(store, "completed", name="parent")
    results = tabs_click_together(home, tmp_path, parent, "ses_relaunch")
    children = {s.id for s in store.list() if s.parent == parent}
    try:
        assert not any(r["exceptions"] for r in results)
        assert [r["errors"] for r in results] == [[], []]
        assert len(children) == 2
        assert {r["monitor"] for r in results} == children
        assert not [e for e in os.listdir(store.sessions_root) if e.startswith(".staging")]
    finally:
        time.sleep(0.5)
