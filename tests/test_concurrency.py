"""One worker per session, machine-wide slots, cancel, and a failing job among good ones."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psutil
import pytest
from factories import new_session
from worker_support import kill_worker, wait_for

from arena_core.errors import SessionBusy
from arena_core.run import control
from arena_core.run.progress_record import HEARTBEAT_SECONDS
from arena_core.run.slots import lock_is_held, try_slot
from arena_core.run.worker import run_session
from arena_core.session.manifest import SessionStatus
from arena_core.session.plan import plan
from arena_core.store import paths
from arena_core.store.records import read_progress

LAUNCHER = """
import sys, time
from arena_core.run import control
from arena_core.errors import SessionBusy
from arena_core.store.session_store import SessionStore
store = SessionStore(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))
try:
    control.launch(store, sys.argv[2])
    print("launched")
except SessionBusy as exc:
    print("busy:", exc)
"""


def _workers_of(session: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] != psutil.STATUS_ZOMBIE and cmdline[-2:] == ["run", session]:
            found.append(process)
    return found


def test_two_simultaneous_launches_start_one_worker_and_cancel_stops_it(home, store, tmp_path):
    # Many epochs so the worker is still training when the test looks (the tiny model trains
    # a 2-epoch job in about half a second); cancel stops it long before the end.
    session = new_session(
        store,
        "jobs",
        rows=240,
        strategies={"sentiment": "one-vs-all"},
        epochs=40,
        early_stopping_patience=0,  # stays busy: early stopping would end tiny jobs in ~1 s
    )
    folder = store.session_dir(session)
    start_at = f"{time.time() + 3.0:.3f}"  # both launchers call launch() at this instant
    launchers = [
        subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(home), session, start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,  # the installed package, as a user's script would import it
        )
        for _ in range(2)
    ]
    outputs = sorted(p.communicate(timeout=60)[0].strip() for p in launchers)
    assert outputs[1] == "launched", outputs
    assert outputs[0].startswith("busy:") and "already running" in outputs[0], outputs
    assert len(_workers_of(session)) == 1

    with pytest.raises(SessionBusy, match="already running"):
        control.launch(store, session)  # a third try, from this process, while it runs

    def training() -> bool:
        progress = read_progress(folder)
        current = progress.current_job
        return bool(current) and progress.jobs[current].step >= 1

    wait_for(training, timeout=120, what="a job to train")
    assert store.status(session) is SessionStatus.RUNNING
    assert len(_workers_of(session)) == 1

    control.cancel(store, session, grace=30)
    assert not _workers_of(session)
    assert not lock_is_held(folder / paths.WORKER_LOCK)
    manifest = store.load(session)
    assert manifest.status is SessionStatus.CANCELLED, manifest.status_reason
    info = control.session_status(store, session)
    assert info["status"] == "cancelled"
    # The job that was training is cancelled; earlier ones completed, later ones stay queued.
    statuses = [j["status"] for j in info["jobs"]]
    stopped = statuses.index("cancelled")
    assert statuses == ["completed"] * stopped + ["cancelled"] + ["queued"] * (2 - stopped)
    cancelled = info["jobs"][stopped]["id"]
    assert (paths.job_dir(folder, cancelled) / paths.JOB_CHECKPOINT).is_dir()  # resumable
    log = (folder / paths.WORKER_LOG).read_text()
    assert log.count("worker pid ") == 1  # one worker ever started
    assert "received SIGTERM" in log
    with pytest.raises(Exception, match="not running"):
        control.cancel(store, session)


@pytest.mark.slow  # about 25 s: two sessions trained one after the other
def test_one_slot_queues_the_second_session_until_the_first_ends(store, monkeypatch):
    monkeypatch.setenv("ARENA_MAX_WORKERS", "1")
    first = new_session(store, "a", rows=120, strategies={"sentiment": "multi-class"})
    second = new_session(store, "b", rows=60, strategies={"sentiment": "multi-class"})
    first_dir, second_dir = store.session_dir(first), store.session_dir(second)

    control.launch(store, first)
    wait_for(lambda: read_progress(first_dir).status == "running", 120, "a running")
    control.launch(store, second)
    beat = wait_for(
        lambda: (
            read_progress(second_dir).status == "queued" and read_progress(second_dir).heartbeat
        ),
        60,
        "b's worker to queue",
    )
    assert store.status(second) is SessionStatus.QUEUED
    assert "waiting for a free worker slot" in store.load(second).status_reason
    assert store.status(first) is SessionStatus.RUNNING
    # A queued worker keeps beating, so it reads as alive (a dead one reads 'interrupted').
    wait_for(
        lambda: (read_progress(second_dir).heartbeat or 0) > beat,
        HEARTBEAT_SECONDS * 3,
        "a fresh heartbeat while queued",
    )
    if store.status(first) is SessionStatus.RUNNING:
        assert read_progress(second_dir).status == "queued"

    assert control.wait(store, first, quiet=True, timeout=180) is SessionStatus.COMPLETED
    assert control.wait(store, second, quiet=True, timeout=180) is SessionStatus.COMPLETED
    assert read_progress(second_dir).running_since >= read_progress(first_dir).ended_at


def test_a_failing_job_is_recorded_and_the_others_complete(store):
    session = new_session(store, "jobs", rows=60, strategies={"sentiment": "one-vs-all"})

    def add_a_label_without_examples(manifest):
        # No row has 'ghost': its one-vs-all job has a single class in train and must fail.
        manifest.keys["sentiment"].labels = ["ghost", "positive"]

    store.update(session, add_a_label_without_examples)
    ghost, positive = (job.id for job in plan(store.load(session)))

    assert run_session(store, session) is SessionStatus.FAILED
    manifest = store.load(session)
    assert manifest.status is SessionStatus.FAILED
    assert manifest.status_reason.startswith("1 of 2 jobs failed")
    assert f"{ghost}: TrainingError" in manifest.status_reason
    info = control.session_status(store, session)
    states = {j["id"]: j for j in info["jobs"]}
    assert states[ghost]["status"] == "failed"
    assert "same class" in states[ghost]["error"]
    assert states[positive]["status"] == "completed"
    assert states[positive]["metrics"]["macro_f1"] is not None
    folder = store.session_dir(session)
    summary = json.loads((folder / paths.SUMMARY).read_text())
    assert summary["status"] == "failed"
    assert summary["jobs"][ghost]["status"] == "failed"
    assert summary["jobs"][positive]["status"] == "completed"
    log = (folder / paths.WORKER_LOG).read_text()
    assert "Traceback" in log and f"job {ghost} failed" in log
    assert not lock_is_held(folder / paths.WORKER_LOCK)
    assert not lock_is_held(store.home / paths.SLOTS_DIR / "slot-0.lock")


def test_queued_worker_that_dies_reads_interrupted_and_cancel_while_queued(store):
    session = new_session(store, "jobs", rows=60, strategies={"sentiment": "multi-class"})
    folder = store.session_dir(session)
    slot = try_slot(store.home, 1)  # this test holds the only slot: the worker must queue
    try:
        control.launch(store, session)
        wait_for(lambda: read_progress(folder).status == "queued", 60, "the worker to queue")
        assert store.status(session) is SessionStatus.QUEUED
        kill_worker(folder)
        assert store.status(session) is SessionStatus.INTERRUPTED  # not a phantom 'queued'

        control.resume(store, session)
        wait_for(lambda: read_progress(folder).status == "queued", 60, "the worker to queue")
        control.cancel(store, session, grace=30)
        manifest = store.load(session)
        assert manifest.status is SessionStatus.CANCELLED
        assert manifest.status_reason == "cancelled while queued"  # the worker's own clean end
        assert not (folder / paths.JOBS_DIR).exists()
    finally:
        slot[1].release()
