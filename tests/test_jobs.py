"""Job control end to end: new --wait, status, relaunch on the same split, saved models predict."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from factories import THREE_THEMES, make_rows, new_session, write_dataset
from worker_support import assert_model_predicts, cli

from arena_core.data.splits import write_split
from arena_core.errors import ArenaError, SessionBusy
from arena_core.run import control
from arena_core.run.slots import try_lock
from arena_core.run.worker import run_session
from arena_core.session.manifest import SessionStatus
from arena_core.session.plan import plan
from arena_core.store import paths

# Sentiment multi-class + 3 themes one-vs-all: 4 jobs.
HYBRID = {"sentiment": "multi-class", "themes": "one-vs-all"}


def test_parse_overrides_types():
    parsed = control.parse_overrides(
        ["epochs=3", "learning_rate=3e-5", "class_weights=true", "early_stopping_patience=none"]
    )
    assert parsed == {
        "epochs": 3,
        "learning_rate": 3e-5,
        "class_weights": True,
        "early_stopping_patience": None,
    }
    assert control.parse_overrides(["model=tiny", "batch-size=8"]) == {
        "model": "tiny",
        "batch_size": 8,
    }
    with pytest.raises(ArenaError, match="NAME=VALUE"):
        control.parse_overrides(["epochs"])


def test_control_refuses_what_makes_no_sense(store):
    session = new_session(store, "jobs", rows=60, keys=THREE_THEMES, strategies=HYBRID)
    info = control.session_status(store, session)
    assert info["status"] == "ready"
    assert [j["id"] for j in info["jobs"]] == [j.id for j in plan(store.load(session))]
    assert {j["status"] for j in info["jobs"]} == {"queued"}
    with pytest.raises(ArenaError, match="not running"):
        control.cancel(store, session)
    with pytest.raises(ArenaError, match="cannot be resumed"):
        control.resume(store, session)
    with pytest.raises(ArenaError, match="Unknown setting 'epoch'"):
        control.relaunch(store, session, {"epoch": 2})


def test_worker_refuses_a_session_it_does_not_hold(store):
    session = new_session(store, "jobs", rows=60, keys=THREE_THEMES, strategies=HYBRID)
    held = try_lock(store.session_dir(session) / paths.WORKER_LOCK)
    try:
        with pytest.raises(SessionBusy, match="already running"):
            run_session(store, session)
    finally:
        held.release()
    assert store.load(session).status is SessionStatus.READY  # nothing changed


def test_tampered_split_fails_the_session_before_training(store):
    session = new_session(store, "jobs", rows=60, keys=THREE_THEMES, strategies=HYBRID)
    folder = store.session_dir(session)
    split = pd.read_parquet(folder / paths.SPLIT_FILE)
    split.loc[0, "split"] = "validation" if split.loc[0, "split"] == "train" else "train"
    write_split(folder / paths.SPLIT_FILE, split["row"], split["split"])

    assert run_session(store, session) is SessionStatus.FAILED
    manifest = store.load(session)
    assert manifest.status is SessionStatus.FAILED
    assert "split" in manifest.status_reason and "hash differs" in manifest.status_reason
    assert not (folder / paths.JOBS_DIR).exists()  # nothing was trained
    summary = json.loads((folder / paths.SUMMARY).read_text())
    assert summary["status"] == "failed" and len(summary["jobs"]) == 4


def test_new_wait_status_relaunch_and_models_predict(home, store, tmp_path):
    data = write_dataset(tmp_path, "csv", make_rows(60, THREE_THEMES), "hybrid")
    done = cli(
        home,
        "new",
        str(data),
        "--text-col=text",
        "--annotation-col=annotation",
        "--strategy=sentiment=multi-class",
        "--strategy=themes=one-vs-all",
        "--model=tiny",
        "--epochs=1",
        "--wait",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    parent = created["id"]
    assert created == {"id": parent, "jobs": 4, "status": "completed"}

    shown = cli(home, "status", parent, "--json")
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["status"] == "completed"
    assert [j["status"] for j in info["jobs"]] == ["completed"] * 4
    assert all(0.0 <= j["metrics"]["macro_f1"] <= 1.0 for j in info["jobs"])
    summary = json.loads((store.session_dir(parent) / paths.SUMMARY).read_text())
    assert {j["status"] for j in summary["jobs"].values()} == {"completed"}

    parent_bytes = (store.session_dir(parent) / paths.MANIFEST).read_bytes()
    again = cli(home, "relaunch", parent, "--set", "epochs=2", "--wait", "--json")
    assert again.returncode == 0, again.stderr
    relaunched = json.loads(again.stdout)
    child = relaunched["id"]
    assert relaunched == {"id": child, "parent": parent, "jobs": 4, "status": "completed"}
    assert (store.session_dir(parent) / paths.MANIFEST).read_bytes() == parent_bytes
    parent_manifest, child_manifest = store.load(parent), store.load(child)
    assert child_manifest.split.sha256 == parent_manifest.split.sha256
    assert child_manifest.parent == parent and child_manifest.training.epochs == 2
    assert child_manifest.status is SessionStatus.COMPLETED

    for session, manifest in ((parent, parent_manifest), (child, child_manifest)):
        for job in plan(manifest):
            out = paths.job_dir(store.session_dir(session), job.id)
            report = json.loads((out / paths.JOB_REPORT).read_text())
            assert report["status"] == "completed"
            assert not (out / paths.JOB_CHECKPOINT).exists()
            assert_model_predicts(out / paths.JOB_MODEL, job.labels)


def test_resume_refused_for_completed_session(store):
    session = new_session(store, "jobs", rows=60, strategies={"sentiment": "multi-class"})
    assert run_session(store, session) is SessionStatus.COMPLETED
    with pytest.raises(ArenaError, match="completed, so it cannot be resumed"):
        control.resume(store, session)
    info = control.session_status(store, session)
    assert info["progress"]["status"] == "completed"
    assert [j["status"] for j in info["jobs"]] == ["completed"]
