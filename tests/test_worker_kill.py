"""kill -9 of the worker mid-session: reads 'interrupted', resume finishes without redoing work."""

from __future__ import annotations

import json

import pytest
from factories import new_session
from worker_support import assert_model_predicts, cli, kill_worker, steps_per_job, wait_for

from arena_core.run import control
from arena_core.session.manifest import SessionStatus
from arena_core.session.plan import plan
from arena_core.store import paths
from arena_core.store.records import read_progress
from arena_core.store.status import STALE_AFTER_SECONDS


def _checkpoint_of(job_dir):
    """A complete checkpoint of the job (the trainer writes trainer_state.json last)."""
    return next(
        iter((job_dir / paths.JOB_CHECKPOINT).glob("checkpoint-*/trainer_state.json")), None
    )


@pytest.mark.slow  # kill -9, then a resume that trains to the end
def test_kill_9_during_job_2_then_resume(home, store):
    # 3 one-vs-all jobs; 240 rows x 2 epochs (24 steps) keep each job busy for a few seconds.
    session = new_session(
        store,
        "kill",
        rows=240,
        strategies={"sentiment": "one-vs-all"},
        epochs=2,
        checkpoint_every_steps=3,
    )
    folder = store.session_dir(session)
    first, second, third = plan(store.load(session))
    control.launch(store, session)

    wait_for(
        lambda: (
            read_progress(folder).current_job == second.id
            and _checkpoint_of(paths.job_dir(folder, second.id))
        ),
        timeout=180,
        what="a checkpoint of job 2",
        poll=0.02,
    )
    pid = kill_worker(folder)
    assert not (paths.job_dir(folder, second.id) / paths.JOB_REPORT).exists(), "job 2 finished"
    first_report = paths.job_dir(folder, first.id) / paths.JOB_REPORT
    first_mtime = first_report.stat().st_mtime_ns

    wait_for(
        lambda: store.status(session) is SessionStatus.INTERRUPTED,
        timeout=STALE_AFTER_SECONDS + 5,
        what="the session to read as interrupted",
    )
    assert store.load(session).status is SessionStatus.RUNNING  # as the dead worker left it
    info = control.session_status(store, session)
    assert info["status"] == "interrupted"
    assert [j["status"] for j in info["jobs"]] == ["completed", "interrupted", "queued"]

    done = cli(home, "resume", session, "--wait")
    assert done.returncode == 0, done.stdout + done.stderr

    assert store.status(session) is SessionStatus.COMPLETED
    assert first_report.stat().st_mtime_ns == first_mtime  # job 1 was not trained again
    resumed = json.loads((paths.job_dir(folder, second.id) / paths.JOB_REPORT).read_text())
    assert resumed["resumed_from_step"] and resumed["resumed_from_step"] > 0
    progress = read_progress(folder)
    assert progress.pid != pid
    assert progress.jobs[first.id].skipped is True
    for (job_id, kind), steps in steps_per_job(folder).items():
        assert steps == sorted(set(steps)), (
            f"{job_id} {kind} steps not strictly increasing: {steps}"
        )
    assert {job_id for job_id, _ in steps_per_job(folder)} == {first.id, second.id, third.id}
    for job in (first, second, third):
        out = paths.job_dir(folder, job.id)
        assert not (out / paths.JOB_CHECKPOINT).exists()
        assert_model_predicts(out / paths.JOB_MODEL, job.labels)
    log = (folder / paths.WORKER_LOG).read_text()
    assert f"job {first.id} already completed: skipped" in log
    assert f"job {second.id}: resuming from its checkpoint" in log
