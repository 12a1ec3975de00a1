"""Disk and permission faults, and damaged worker files.

Tests run as root, where chmod cannot make ARENA_HOME read-only, and a full disk cannot be
made on demand: those two faults are injected at the exact OS calls that write (mkdir, open
for writing, rename, link) under ARENA_HOME; everything else runs for real, the training too.
The injected-fault tests are marked slow (``python -m pytest -m slow``); the damaged worker
files are read in the default run.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
from pathlib import Path

import pytest
from apptest_support import demo_state, nav_app, page_test, texts_of
from factories import (
    demo_dataset,
    make_rows,
    make_session,
    new_session,
    prepared_session,
    write_dataset,
)

from arena_core.cli.main import main
from arena_core.errors import StorageError
from arena_core.run import control
from arena_core.session.check import check, is_complete
from arena_core.session.create import create_session
from arena_core.session.manifest import SessionStatus, read_manifest
from arena_core.session.relaunch import create_relaunch
from arena_core.store import paths
from arena_core.store.metrics_log import read_metrics
from arena_core.store.session_store import SessionStore
from ui.common import DATASET, DATASET_PATH, MONITOR_SESSION, STRATEGY

# ---------------------------------------------------------------- the fault


class DiskFault:
    """Writes under ``root`` fail with ``err`` once ``allowed`` of them have succeeded.

    ``allowed=None`` lets every write through and only counts them.
    """

    def __init__(self, monkeypatch, root: Path, err: int, allowed: int | None = 0) -> None:
        self.roots = {os.path.abspath(root), os.path.realpath(root)}
        self.err = err
        self.allowed = allowed
        self.writes: list[str] = []
        self.failed: list[str] = []
        real_mkdir, real_os_open = os.mkdir, os.open
        real_replace, real_rename, real_link = os.replace, os.rename, os.link
        real_open = builtins.open

        def mkdir(path, *args, **kwargs):
            # As for real: an existing folder fails with EEXIST, a missing parent with ENOENT.
            if not os.path.exists(path) and os.path.isdir(os.path.dirname(os.fspath(path))):
                self._write("mkdir", path)
            return real_mkdir(path, *args, **kwargs)

        def os_open(path, flags, *args, **kwargs):
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC):
                self._write("open", path)
            return real_os_open(path, flags, *args, **kwargs)

        def replace(src, dst, *args, **kwargs):
            self._write("replace", dst)
            return real_replace(src, dst, *args, **kwargs)

        def rename(src, dst, *args, **kwargs):
            self._write("rename", dst)
            return real_rename(src, dst, *args, **kwargs)

        def link(src, dst, *args, **kwargs):
            self._write("link", dst)
            return real_link(src, dst, *args, **kwargs)

        def open_(file, mode="r", *args, **kwargs):
            if isinstance(mode, str) and set(mode) & set("wax+"):
                self._write("open", file)
            return real_open(file, mode, *args, **kwargs)

        for name, fake in (
            ("mkdir", mkdir),
            ("open", os_open),
            ("replace", replace),
            ("rename", rename),
            ("link", link),
        ):
            monkeypatch.setattr(os, name, fake)
        monkeypatch.setattr(builtins, "open", open_)
        monkeypatch.setattr(io, "open", open_)

    def _under(self, path) -> bool:
        try:
            text = os.path.abspath(os.fspath(path))
        except TypeError:  # a file descriptor
            return False
        if isinstance(text, bytes):
            text = os.fsdecode(text)
        return any(text == root or text.startswith(root + os.sep) for root in self.roots)

    def _write(self, kind: str, path) -> None:
        if not self._under(path) or paths.LISTING_CACHE in os.fspath(path):
            # The session browser's cache is optional by design: failing to write it is
            # ignored (the row is computed from the manifest instead), so it is not a fault.
            return
        if self.allowed is not None and len(self.writes) >= self.allowed:
            self.failed.append(f"{kind} {path}")
            raise OSError(self.err, os.strerror(self.err), os.fspath(path))
        self.writes.append(f"{kind} {path}")


HINTS = {errno.ENOSPC: "the disk is full", errno.EROFS: "not writable"}


def assert_nothing_half_created(
    store: SessionStore, before: set[str] = frozenset(), hidden_ok: bool = False
) -> None:
    """No new session, and (unless ``hidden_ok``) no staging folder left in the sessions folder."""
    entries = set(os.listdir(store.sessions_root)) if store.sessions_root.exists() else set()
    if hidden_ok:
        entries = {e for e in entries if not e.startswith(".")}
    assert entries == set(before), f"left behind: {sorted(entries - set(before))}"
    assert store.list() == [] or {s.id for s in store.list()} == set(before)


def demo_prepared():
    return prepared_session("faults", dataset=demo_dataset())


# ---------------------------------------------------------------- creating sessions


@pytest.mark.slow  # injected fault
def test_create_on_a_read_only_home_says_so_and_writes_nothing(monkeypatch, home):
    store = SessionStore(home)
    prepared = demo_prepared()
    fault = DiskFault(monkeypatch, home, errno.EROFS)
    with pytest.raises(StorageError, match="not writable: check the permissions of ARENA_HOME"):
        create_session(store, prepared)
    assert fault.failed and not fault.writes
    assert not home.exists()


@pytest.mark.slow  # injected fault
def test_disk_full_at_every_write_of_a_create_leaves_no_session(monkeypatch, tmp_path):
    prepared = demo_prepared()
    with monkeypatch.context() as patch:
        counter = DiskFault(patch, tmp_path / "count", errno.ENOSPC, allowed=None)
        create_session(SessionStore(tmp_path / "count"), prepared)
    n_writes = len(counter.writes)
    assert n_writes >= 5, counter.writes  # folders, snapshot, split, manifest, final rename
    for allowed in range(n_writes):
        store = SessionStore(tmp_path / f"home-{allowed}")
        with monkeypatch.context() as patch:
            fault = DiskFault(patch, store.home, errno.ENOSPC, allowed=allowed)
            with pytest.raises(StorageError, match="the disk is full: free some space") as info:
                create_session(store, prepared)
        assert fault.failed, allowed
        assert "\n" not in str(info.value)
        assert_nothing_half_created(store)
        # Space is back: the same store creates the session whole.
        manifest = create_session(store, prepared)
        assert is_complete(check(manifest, store.session_dir(manifest.id)))


@pytest.mark.slow  # injected fault
def test_disk_full_during_a_relaunch_leaves_the_parent_alone(monkeypatch, store):
    parent = create_session(store, demo_prepared())
    before = set(os.listdir(store.sessions_root))
    parent_bytes = (store.session_dir(parent.id) / paths.MANIFEST).read_bytes()
    with monkeypatch.context() as patch:
        counter = DiskFault(patch, store.home, errno.ENOSPC, allowed=None)
        child = create_relaunch(store, parent.id)
    n_writes = len(counter.writes)
    for entry in set(os.listdir(store.sessions_root)) - before:
        import shutil

        shutil.rmtree(store.sessions_root / entry)
    for allowed in range(n_writes):
        with monkeypatch.context() as patch:
            DiskFault(patch, store.home, errno.ENOSPC, allowed=allowed)
            with pytest.raises(StorageError, match="disk is full"):
                create_relaunch(store, parent.id)
        assert_nothing_half_created(store, before)
    assert (store.session_dir(parent.id) / paths.MANIFEST).read_bytes() == parent_bytes
    assert child.parent == parent.id


@pytest.mark.slow  # injected fault
def test_disk_full_while_staging_leaves_no_hidden_folder(monkeypatch, store):
    prepared = demo_prepared()
    store.sessions_root.mkdir(parents=True)
    with monkeypatch.context() as patch:
        DiskFault(patch, store.home, errno.ENOSPC, allowed=1)  # the staging folder, not data/
        with pytest.raises(StorageError, match="disk is full"):
            create_session(store, prepared)
    assert_nothing_half_created(store)


@pytest.mark.slow  # injected fault
def test_cli_new_on_a_read_only_home_prints_one_error_line(monkeypatch, home, tmp_path, capsys):
    path = write_dataset(tmp_path, "csv", make_rows(36), "small")
    DiskFault(monkeypatch, home, errno.EROFS)
    code = main(
        ["--home", str(home), "new", str(path), "--annotation-col", "annotation"]
        + ["--model", "tiny", "--no-start"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: Cannot write ") and len(err.strip().splitlines()) == 1
    assert "not writable" in err
    assert not home.exists()


@pytest.mark.slow  # injected fault
def test_strategy_page_launch_on_a_read_only_home_shows_one_error(monkeypatch, home):
    at = page_test(STRATEGY, demo_state())
    at.radio(key="st_model").set_value("tiny").run()
    DiskFault(monkeypatch, home, errno.EROFS)
    at.button(key="st_launch").click().run()
    assert not at.exception
    errors = texts_of(at, "error")
    assert len(errors) == 1 and "not writable" in errors[0]
    assert not home.exists()
    monkeypatch.undo()
    assert not at.button(key="st_launch").disabled, "the launch can be retried"


@pytest.mark.slow  # injected fault
def test_dataset_page_upload_on_a_full_disk_shows_one_error(monkeypatch, home, tmp_path):
    path = write_dataset(tmp_path, "csv", make_rows(36), "small")
    at = page_test(DATASET)
    DiskFault(monkeypatch, home, errno.ENOSPC)
    at.file_uploader(key="ds_upload").upload("small.csv", path.read_bytes(), "text/csv").run()
    assert not at.exception
    assert len(at.error) == 1 and "disk is full" in at.error[0].value
    assert DATASET_PATH not in at.session_state


@pytest.mark.slow  # injected fault
def test_status_change_on_a_read_only_home_is_a_storage_error(monkeypatch, store):
    manifest = create_session(store, demo_prepared())
    (store.session_dir(manifest.id) / "manifest.lock").unlink(missing_ok=True)
    DiskFault(monkeypatch, store.home, errno.EROFS)
    with pytest.raises(StorageError, match="not writable"):
        store.set_status(manifest.id, SessionStatus.CANCELLED, "test")
    assert read_manifest(store.session_dir(manifest.id))[0].status is SessionStatus.READY


# ---------------------------------------------------------------- disk full while training


def one_job_session(store: SessionStore, **training) -> str:
    """A 'ready' session of a single multi-class job (tiny model, 2 epochs by default)."""
    values = {"epochs": 2, "batch_size": 8, "logging_steps": 2, **training}
    return new_session(store, "jobs", rows=48, strategies={"sentiment": "multi-class"}, **values)


def assert_session_sound(store: SessionStore, session_id: str) -> None:
    """The manifest reads and is complete, status and the metrics log read."""
    folder = store.session_dir(session_id)
    manifest, _ = read_manifest(folder)
    assert is_complete(check(manifest, folder)), check(manifest, folder)
    control.session_status(store, session_id)
    for raw in (folder / paths.METRICS).read_bytes().splitlines(keepends=True)[:-1]:
        json.loads(raw)  # every complete line is a record


@pytest.mark.slow  # injected fault
def test_disk_full_on_the_second_checkpoint_fails_the_session_and_resume_finishes(
    monkeypatch, store, tmp_path
):
    from transformers import Trainer

    from arena_core.run.worker import run_session
    from arena_core.training.trainer import latest_checkpoint

    # 3 epochs: the last epoch writes no checkpoint (it would be deleted at once), so the
    # second checkpoint is the one at the end of epoch 2.
    session_id = one_job_session(store, epochs=3)
    folder = store.session_dir(session_id)
    job_id = store.load(session_id).plan[0].id
    checkpoints = paths.job_dir(folder, job_id) / paths.JOB_CHECKPOINT
    real_save = Trainer._save_checkpoint
    calls = []

    def save_checkpoint(self, model, trial):
        calls.append(self.state.global_step)
        if len(calls) == 1:
            return real_save(self, model, trial)
        # The disk fills up half-way through writing the checkpoint.
        partial = checkpoints / f"checkpoint-{self.state.global_step}"
        partial.mkdir(parents=True)
        (partial / "model.safetensors").write_bytes(b"\0" * 1000)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(partial / "optimizer.pt"))

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "_save_checkpoint", save_checkpoint)
        assert run_session(store, session_id) is SessionStatus.FAILED
    assert len(calls) == 2
    manifest = store.load(session_id)
    assert manifest.status is SessionStatus.FAILED
    assert "the disk is full: free some space" in manifest.status_reason
    assert job_id in manifest.status_reason
    kept = latest_checkpoint(checkpoints)
    assert kept is not None and kept.name == f"checkpoint-{calls[0]}", "the good one is kept"
    assert sorted(p.name for p in checkpoints.iterdir()) == [kept.name], "half-written removed"
    assert_session_sound(store, session_id)
    info = control.session_status(store, session_id)
    assert info["status"] == "failed" and "disk is full" in info["jobs"][0]["error"]

    # Space freed: resume continues from the kept checkpoint and finishes.
    assert run_session(store, session_id) is SessionStatus.COMPLETED
    report = json.loads((paths.job_dir(folder, job_id) / paths.JOB_REPORT).read_text("utf-8"))
    assert report["resumed_from_step"] == calls[0]
    assert_session_sound(store, session_id)


class _HalfWrite:
    """A file whose next write stores half of the data, then fails: the disk just filled up."""

    def __init__(self, handle) -> None:
        self._handle = handle

    def write(self, data: bytes) -> int:
        self._handle.write(data[: len(data) // 2])
        self._handle.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._handle.close()


@pytest.mark.slow  # injected fault
def test_disk_full_on_a_metrics_write_fails_the_session_cleanly(monkeypatch, store, tmp_path):
    from arena_core.run.worker import run_session
    from arena_core.store import metrics_log as metrics_module

    session_id = one_job_session(store, epochs=1)
    folder = store.session_dir(session_id)
    metrics_path = folder / paths.METRICS
    appends = []

    def failing_open(file, mode="r", *args, **kwargs):
        handle = builtins.open(file, mode, *args, **kwargs)  # noqa: SIM115 (returned open)
        if Path(file) == metrics_path and "a" in mode:
            appends.append(mode)
            if len(appends) == 3:
                return _HalfWrite(handle)
        return handle

    with monkeypatch.context() as patch:
        patch.setattr(metrics_module, "open", failing_open, raising=False)
        assert run_session(store, session_id) is SessionStatus.FAILED
    assert len(appends) == 3
    manifest = store.load(session_id)
    assert (
        "the disk is full" in manifest.status_reason and "metrics.jsonl" in manifest.status_reason
    )
    data = metrics_path.read_bytes()
    assert not data.endswith(b"\n"), "the half-written line is still there"
    records, _ = read_metrics(metrics_path)
    assert len(records) == 2, "readers skip the half line"
    assert_session_sound(store, session_id)
    at = nav_app(tmp_path, "monitor")
    at.session_state[MONITOR_SESSION] = session_id
    at.run()
    assert not at.exception
    assert any("disk is full" in caption for caption in texts_of(at, "caption"))

    # Space freed: resume starts the job over; the half line is gone, every line parses.
    assert run_session(store, session_id) is SessionStatus.COMPLETED
    lines = metrics_path.read_bytes().splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)


# ---------------------------------------------------------------- damaged worker files

BAD_PROGRESS = {
    "empty": b"",
    "binary": b"\x00\xff\xfe garbage \x81",
    "truncated": b'{"status": "running", "pid": 12',
    "list": b"[1, 2, 3]",
    "null": b"null",
    "string": b'"running"',
    "wrong_types": json.dumps(
        {
            "status": 5,
            "pid": "abc",
            "host": None,
            "heartbeat": "yesterday",
            "jobs": [1, 2],
            "overall": "half",
            "current_job": {"a": 1},
        }
    ).encode(),
    "wrong_job_entries": json.dumps(
        {
            "status": "running",
            "pid": os.getpid(),
            "heartbeat": 1e30,
            "jobs": {
                "a": "completed",
                "b": None,
                "c": {"status": 3, "step": "abc", "total_steps": "0", "metrics": "x"},
            },
            "overall": {"steps_done": "x", "total_steps": 0, "eta_seconds": "soon"},
        }
    ).encode(),
}

BAD_METRICS_LINES = [
    b"\x00\xff\xfe\x81 binary",
    b"[1, 2]",
    b'"text"',
    b"null",
    b"3",
    b"{}",
    b'{"kind": null, "job": 5}',
    b'{"kind": "train", "job": "x", "step": "abc", "train_loss": "high"}',
    b'{"kind": "eval", "job": null, "step": 1, "epoch": "one", "val_macro_f1": "good"}',
    b'{"kind": "eval", "step": 2, "val_macro_f1": NaN, "val_loss": Infinity}',
    b'{"kind": "test", "job": [], "step": {}}',
    b'{"kind": "train", "job": "',  # half a line, then more lines after it
]


def _damage(store: SessionStore, session_id: str, progress: bytes) -> None:
    folder = store.session_dir(session_id)
    (folder / paths.PROGRESS).write_bytes(progress)
    with open(folder / paths.METRICS, "ab") as handle:
        handle.write(b"\n".join(BAD_METRICS_LINES) + b"\n" + BAD_METRICS_LINES[-1])


def _select(at, session_id):
    frame = next(d for d in at.dataframe if d.key == "ses_table").value
    row = list(frame["id"]).index(session_id)
    at.session_state["ses_table"] = {"selection": {"rows": [row], "columns": []}}
    return at.run()


DAMAGES = [pytest.param(name, marks=[]) for name in BAD_PROGRESS]


@pytest.mark.parametrize("kind", ["running", "completed"])
@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_progress_and_metrics_break_nothing(store, tmp_path, capsys, kind, damage):
    session_id = make_session(store, kind)
    _damage(store, session_id, BAD_PROGRESS[damage])
    expected = {"running": {"interrupted", "running"}, "completed": {"completed"}}[kind]

    info = control.session_status(store, session_id)
    assert info["status"] in expected
    assert [s.status for s in store.list()][0] in expected
    code = main(["--home", str(store.home), "status", session_id])
    out, err = capsys.readouterr()
    assert code in (0, 1) and "Traceback" not in err and not err.startswith("error:"), err

    sessions = _select(nav_app(tmp_path, "sessions").run(), session_id)
    assert not sessions.exception, sessions.exception
    monitor = nav_app(tmp_path, "monitor")
    monitor.session_state[MONITOR_SESSION] = session_id
    monitor.run()
    assert not monitor.exception, monitor.exception
    assert monitor.selectbox(key="mon_pick").value == session_id
    assert len(monitor.get("plotly_chart")) == 2, "the good records are still charted"
