"""Workers waiting for a slot are served first come, first served, and say where they stand.

Real worker processes with ARENA_MAX_WORKERS=1. The fast tests hold the only slot from the test
process and queue ``tfidf`` sessions (no torch: a worker waits in about a second and trains in
one once served); the slow one queues tiny-model sessions behind a training one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from factories import new_session
from worker_support import kill_worker, wait_for

from arena_core.run import control, queue
from arena_core.run.slots import try_slot
from arena_core.session.manifest import SessionStatus
from arena_core.store.records import read_progress

TICKET_HOLDER = """
import sys, time
from arena_core.run.queue import join
join(sys.argv[1], sys.argv[2])
print("joined", flush=True)
time.sleep(120)
"""


def _queue(store, session_id: str):
    return control.session_status(store, session_id)["queue"]


def _launch_queued(store, session_id: str, place: int) -> None:
    """Launch, then wait until its worker waits in ``place`` and its progress says since when."""
    control.launch(store, session_id)
    wait_for(
        lambda: (
            (_queue(store, session_id) or {}).get("place") == place
            and read_progress(store.session_dir(session_id)).queued_at
        ),
        60,
        f"{session_id} to wait in place {place}",
    )


def test_tickets_are_served_in_order_and_a_killed_waiter_drops_out(home):
    first = queue.join(home, "first")
    holder = subprocess.Popen(
        [sys.executable, "-c", TICKET_HOLDER, str(home), "second"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "joined"
        last = queue.join(home, "third")
        assert [w.session for w in queue.waiting(home)] == ["first", "second", "third"]
        assert queue.queue_state(home, "third") == {"place": 3, "waiting": 3, "running": []}
        assert queue.my_turn(home, first, limit=1)
        assert not queue.my_turn(home, last, limit=1)
        assert queue.my_turn(home, last, limit=3)  # three free slots serve all three at once

        os.kill(holder.pid, signal.SIGKILL)  # the kernel drops its flock: out of the line
        holder.wait(10)
        assert queue.queue_state(home, "third") == {"place": 2, "waiting": 2, "running": []}
        first.leave()
        assert queue.my_turn(home, last, limit=1)
        assert [w.session for w in queue.waiting(home, clean=True)] == ["third"]
        last.leave()
        assert queue.waiting(home) == []
        assert not list((home / "slots" / "queue").iterdir())  # the dead ticket was removed
    finally:
        holder.kill()
        holder.wait(10)


def test_queued_workers_get_the_slot_in_launch_order(store, monkeypatch):
    monkeypatch.setenv("ARENA_MAX_WORKERS", "1")
    sessions = [
        new_session(store, name, rows=40, strategies={"sentiment": "multi-class"}, model="tfidf")
        for name in ("a", "b", "c")
    ]
    a, b, c = sessions
    slot = try_slot(store.home, 1)  # this test holds the only slot: every worker must wait
    try:
        for place, session in enumerate(sessions, start=1):
            _launch_queued(store, session, place)
        assert _queue(store, c) == {"place": 3, "waiting": 3, "running": []}
        assert read_progress(store.session_dir(a)).queued_at < (
            read_progress(store.session_dir(c)).queued_at
        )
        assert "place 1 of 3 waiting" in control._progress_line(control.session_status(store, a))

        kill_worker(store.session_dir(b))  # a waiter that dies leaves the line at once
        assert store.status(b) is SessionStatus.INTERRUPTED
        assert _queue(store, b) is None
        assert _queue(store, c) == {"place": 2, "waiting": 2, "running": []}
    finally:
        slot[1].release()

    assert control.wait(store, a, quiet=True, timeout=120) is SessionStatus.COMPLETED
    assert control.wait(store, c, quiet=True, timeout=120) is SessionStatus.COMPLETED
    first, last = (read_progress(store.session_dir(s)) for s in (a, c))
    assert first.running_since <= last.running_since
    assert last.running_since >= first.ended_at  # c took the slot a released, not before
    assert _queue(store, a) is None and queue.waiting(store.home) == []


@pytest.mark.slow  # three tiny-model workers one after the other: about a minute on 2 cores
def test_three_workers_one_slot_place_running_and_order(store, monkeypatch):
    monkeypatch.setenv("ARENA_MAX_WORKERS", "1")
    runner = new_session(store, "runner", rows=120, strategies={"sentiment": "multi-class"},
                         epochs=100)  # fmt: skip
    b, c = (
        new_session(store, name, rows=60, strategies={"sentiment": "multi-class"})
        for name in ("b", "c")
    )
    control.launch(store, runner)
    wait_for(lambda: read_progress(store.session_dir(runner)).status == "running", 120, "runner")
    _launch_queued(store, b, 1)
    _launch_queued(store, c, 2)
    assert _queue(store, b) == {"place": 1, "waiting": 2, "running": [runner]}
    assert _queue(store, c) == {"place": 2, "waiting": 2, "running": [runner]}
    assert _queue(store, runner) is None

    control.cancel(store, runner, grace=30)
    wait_for(lambda: store.status(b) is SessionStatus.RUNNING, 60, "b to take the slot")
    state = _queue(store, c)
    if store.status(c) is SessionStatus.QUEUED:  # b may already be done on a fast machine
        assert state["place"] == 1 and state["waiting"] == 1, state
        assert state["running"] in ([b], []), state

    assert control.wait(store, b, quiet=True, timeout=180) is SessionStatus.COMPLETED
    assert control.wait(store, c, quiet=True, timeout=180) is SessionStatus.COMPLETED
    served = [read_progress(store.session_dir(s)) for s in (b, c)]
    assert served[1].running_since >= served[0].ended_at
