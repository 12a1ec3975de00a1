"""The session index (``arena_core/store/session_index.py``): the Sessions page's rows on disk.

It is a cache: whatever happens to it (deleted, garbage, another version, unwritable, two
writers) the listing equals what the folders say, and a new process re-reads only the sessions
that changed. Speed is measured in ``bench/sessions_page.py``, never here.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest
from factories import make_completed, make_session, write_progress

from arena_core.store import paths
from arena_core.store.listing import ListingCache
from arena_core.store.session_index import SessionIndex

AGO = 60  # s: files this old have settled (their rows may be stored)


def settle(store, *ids: str) -> None:
    """Age a session's files and folder, as if written a minute ago."""
    past = time.time() - AGO
    for sid in ids:
        folder = store.session_dir(sid)
        for name in (paths.MANIFEST, paths.PROGRESS):
            if (folder / name).exists():
                os.utime(folder / name, (past, past))
        os.utime(folder, (past, past))


class Reader:
    """``store.summary``, remembering which sessions it read."""

    def __init__(self, store) -> None:
        self.store, self.read = store, []

    def __call__(self, session_id: str):
        self.read.append(session_id)
        return self.store.summary(session_id)


def listing(store, cache: ListingCache | None = None) -> tuple[dict, list[str]]:
    """The rows by id (a new cache: a new process) and the ids read from their folders."""
    reader = Reader(store)
    rows = (cache or ListingCache()).rows(store.sessions_root, reader)
    return {row.id: row for row in rows}, reader.read


def truth(store) -> dict:
    return {sid: store.summary(sid) for sid in os.listdir(store.sessions_root) if sid[0] != "."}


def index(store) -> SessionIndex:
    return SessionIndex(store.sessions_root)


@pytest.fixture
def three(store):
    ids = [make_session(store, kind) for kind in ("completed", "failed", "ready")]
    settle(store, *ids)
    return ids


def test_a_new_process_reads_the_index_not_the_folders(store, three):
    rows, read = listing(store)
    assert rows == truth(store) and sorted(read) == sorted(three)
    assert index(store).path.is_file() and set(index(store).load()) == set(three)

    rows, read = listing(store)  # a new process

    assert rows == truth(store) and read == []
    assert list(rows) == [s.id for s in store.list()]  # newest first, as before


def _garbage(path) -> None:
    path.write_bytes(b"\x00not a database\xff" * 300)
    for suffix in ("-wal", "-shm"):  # a journal left beside it must not be replayed
        path.with_name(path.name + suffix).write_bytes(b"junk" * 100)


def _truncated(path) -> None:
    path.write_bytes(path.read_bytes()[:600])


def _other_version(path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=1")


def _no_table(path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE sessions")


DAMAGES = {
    "deleted": lambda path: path.unlink(),
    "garbage": _garbage,
    "empty": lambda path: path.write_bytes(b""),
    "truncated": _truncated,
    "other version": _other_version,
    "no table": _no_table,
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_index_is_rebuilt_from_the_folders(store, three, damage):
    listing(store)
    DAMAGES[damage](index(store).path)

    rows, read = listing(store)

    assert rows == truth(store) and sorted(read) == sorted(three)
    assert set(index(store).load()) == set(three)  # rebuilt
    assert listing(store)[1] == []


def test_a_damaged_row_is_read_again_alone(store, three):
    listing(store)
    with sqlite3.connect(index(store).path) as db:
        db.execute("UPDATE sessions SET row = '{\"id\": 5}' WHERE id = ?", (three[0],))

    rows, read = listing(store)

    assert rows == truth(store) and read == [three[0]]


def test_a_session_changed_behind_its_back_is_read_again(store, three):
    done, failed, ready = three
    listing(store)
    progress_file = store.session_dir(done) / paths.PROGRESS
    progress = json.loads(progress_file.read_text("utf-8"))
    for job in progress["jobs"].values():
        job["metrics"]["macro_f1"] = 0.99
    folder_time = store.session_dir(done).stat()
    progress_file.write_text(json.dumps(progress), "utf-8")  # by hand, in place
    os.utime(store.session_dir(done), ns=(folder_time.st_atime_ns, folder_time.st_mtime_ns))
    store.update(ready, lambda manifest: setattr(manifest, "name", "renamed"))
    make_completed(store, failed)

    rows, read = listing(store)  # a new process: the stamps differ

    assert rows == truth(store) and sorted(read) == sorted(three)
    assert rows[done].best_macro_f1 == 0.99
    assert rows[ready].name == "renamed" and rows[failed].status == "completed"


def test_a_running_session_follows_its_progress(store):
    sid = make_session(store, "running")
    cache = ListingCache()
    rows, _ = listing(store, cache)
    assert rows[sid].status == "running" and rows[sid].jobs_done == 1
    plan = [job.id for job in store.load(sid).plan]
    jobs = {job: {"status": "completed", "metrics": {"macro_f1": 0.5}} for job in plan}
    jobs[plan[0]]["metrics"]["macro_f1"] = 0.97
    write_progress(store, sid, "running", jobs, pid=os.getpid())

    rows, read = listing(store, cache)  # the same process, a rerun

    assert read == [sid] and rows[sid].jobs_done == len(plan)
    assert rows[sid].best_macro_f1 == 0.97
    assert sid not in index(store).load()  # a live row is never stored
    write_progress(store, sid, "running", jobs, heartbeat=time.time() - 3600)
    assert listing(store, cache)[0][sid].status == "interrupted"


def test_vanished_sessions_leave_the_index(store, three):
    listing(store)
    shutil.rmtree(store.session_dir(three[1]))

    rows, read = listing(store)

    assert set(rows) == {three[0], three[2]} and read == []
    assert set(index(store).load()) == {three[0], three[2]}


def test_rows_of_listing_json_are_reused(store, three):
    store.list()  # the CLI's listing writes a listing.json per session

    rows, read = listing(store)

    assert rows == truth(store) and read == []


def test_an_unwritable_index_never_breaks_the_listing(store, three, caplog):
    store.sessions_root.joinpath(paths.SESSION_INDEX).mkdir()  # cannot be opened as a file

    rows, read = listing(store)

    assert rows == truth(store) and sorted(read) == sorted(three)
    assert "session index" in caplog.text
    assert index(store).load() == {}


WRITER = """
import sys
from pathlib import Path
from arena_core.store.listing import ListingCache
from arena_core.store.session_index import Indexed, SessionIndex
from arena_core.store.session_store import SessionStore

store, tag = SessionStore(sys.argv[1]), sys.argv[2]
index = SessionIndex(store.sessions_root)
row = store.summary(sys.argv[3])
for i in range(40):
    ghost = row.model_copy(update={"id": f"ghost-{tag}-{i}"})
    index.save({ghost.id: Indexed((i, 1, None, None), ghost)}, [f"ghost-{tag}-{i - 1}"])
    assert len(index.load()) >= 1, "the index was lost"
    if i % 10 == 0:
        ListingCache().rows(store.sessions_root, store.summary)
"""


def test_two_processes_write_the_index_at_once(store, three):
    listing(store)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(store.home), tag, three[0]],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    errors = [writer.communicate(timeout=120)[1] for writer in writers]

    assert [writer.returncode for writer in writers] == [0, 0], errors
    assert not any("damaged" in error for error in errors), errors
    with sqlite3.connect(index(store).path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    rows, _ = listing(store)
    assert rows == truth(store)
    assert set(index(store).load()) == set(three)  # the ghosts vanished with the listing
