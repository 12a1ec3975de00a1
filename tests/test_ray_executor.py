"""The Ray executor on a real local Ray cluster: the same plan, files and metrics as the local
executor; the node of each job shown; a killed task reads 'interrupted' and resumes to the end
with no step logged twice; cancel stops the tasks; a setting that cannot work says what to do."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest
from factories import new_session
from ray_support import local_ray_cluster, ray_node
from worker_support import kill_worker, steps_per_job, wait_for

from arena_core import settings
from arena_core.errors import ArenaError
from arena_core.run import control
from arena_core.run.worker import run_session
from arena_core.session.manifest import SessionStatus
from arena_core.session.plan import plan
from arena_core.store import paths
from arena_core.store.metrics_log import read_metrics
from arena_core.store.records import JobStatus, read_live, read_progress, read_report
from arena_core.store.status import pid_alive
from arena_core.viz.compare import nodes_table
from ui.job_tables import live_frame, results_frame

HYBRID = {"sentiment": "multi-class", "themes": "one-vs-all"}  # 1 + 4 models
RUN_TIMEOUT = 300


@pytest.fixture(scope="module")
def ray_address():
    with local_ray_cluster(cpus=2) as address:
        yield address


@pytest.fixture
def on_ray(ray_address, monkeypatch):
    """Sessions launched from here on train on the test cluster."""
    monkeypatch.setenv(settings.EXECUTOR, "ray")
    monkeypatch.setenv(settings.RAY_ADDRESS, ray_address)
    return ray_address


def _launch_and_wait(store, session_id: str) -> SessionStatus:
    control.launch(store, session_id)
    return control.wait(store, session_id, quiet=True, timeout=RUN_TIMEOUT)


def _job_files(folder, job_id: str) -> set[str]:
    root = paths.job_dir(folder, job_id)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.name != paths.JOB_LIVE}


def _logged(folder) -> set[tuple[str, str, int]]:
    records, _ = read_metrics(folder / paths.METRICS)
    return {(r["job"], r["kind"], r["step"]) for r in records}


def test_a_hybrid_session_trains_through_ray_as_it_does_locally(store, on_ray, monkeypatch):
    options = {"rows": 80, "strategies": HYBRID, "epochs": 2}
    on_ray_id = new_session(store, "on-ray", **options)
    local_id = new_session(store, "local", **options)
    jobs = plan(store.load(on_ray_id))
    assert len(jobs) == 5 and [j.id for j in jobs] == [j.id for j in plan(store.load(local_id))]

    assert _launch_and_wait(store, on_ray_id) is SessionStatus.COMPLETED
    monkeypatch.setenv(settings.EXECUTOR, "local")
    assert run_session(store, local_id) is SessionStatus.COMPLETED

    ray_dir, local_dir = store.session_dir(on_ray_id), store.session_dir(local_id)
    for job in jobs:  # the same files in every job folder, the same report fields
        assert _job_files(ray_dir, job.id) == _job_files(local_dir, job.id), job.id
        ray_report, local_report = (
            read_report(paths.job_dir(ray_dir, job.id)),
            read_report(paths.job_dir(local_dir, job.id)),
        )
        assert ray_report.completed and local_report.completed
        assert set(ray_report.metrics) == set(local_report.metrics)
    assert _logged(ray_dir) == _logged(local_dir)  # the same (job, kind, step) metric lines
    assert not (ray_dir / paths.STOP_REQUEST).exists()

    # Where each job ran: recorded by the task itself, shown by Monitor and Sessions
    progress = read_progress(ray_dir)
    host = socket.gethostname()
    assert {progress.jobs[j.id].node for j in jobs} == {host}
    assert all(progress.jobs[j.id].status is JobStatus.COMPLETED for j in jobs)
    pids = {read_live(paths.job_dir(ray_dir, j.id)).pid for j in jobs}
    assert progress.pid not in pids  # trained in Ray's worker processes, not the driver
    status = control.session_status(store, on_ray_id)
    assert list(live_frame(status["jobs"])["node"]) == [host] * 5
    from arena_core.session.describe import job_results

    rows = job_results(ray_dir, store.load(on_ray_id))
    assert list(results_frame(rows)["node"]) == [host] * 5
    local_rows = job_results(local_dir, store.load(local_id))
    assert "node" not in results_frame(local_rows).columns  # no column of dashes locally
    titles = {on_ray_id: "on Ray", local_id: "local"}
    nodes = nodes_table(store, [on_ray_id, local_id], titles)  # the Compare page's table
    assert list(nodes["on Ray"]) == [host] * 5 and nodes["local"].isna().all()
    assert nodes_table(store, [local_id], titles).empty  # no table when nothing ran on Ray
    log = (ray_dir / paths.WORKER_LOG).read_text()
    assert "5 jobs submitted to Ray" in log
    assert all(f"job {j.id} on {host}" in log for j in jobs)  # the tasks' own log lines


def test_settings_that_cannot_work_say_what_to_do(store, on_ray, monkeypatch):
    session = new_session(store, "bad", rows=40, strategies={"sentiment": "multi-class"})

    monkeypatch.setenv(settings.EXECUTOR, "spark")
    with pytest.raises(ArenaError, match="ARENA_EXECUTOR='spark' is not an executor"):
        control.launch(store, session)

    monkeypatch.setenv(settings.EXECUTOR, "ray")
    monkeypatch.setenv(settings.RAY_GPUS_PER_JOB, "1")  # the test cluster has no GPU
    assert _launch_and_wait(store, session) is SessionStatus.FAILED
    reason = store.load(session).status_reason
    assert "has the 1 CPU and 1 GPU each job asks for" in reason and "ARENA_RAY_GPUS_PER_JOB" in (
        reason
    )

    monkeypatch.delenv(settings.RAY_GPUS_PER_JOB)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv(settings.RAY_ADDRESS, f"127.0.0.1:{port}")  # nobody listens there
    assert _launch_and_wait(store, session) is SessionStatus.FAILED
    reason = store.load(session).status_reason
    assert f"No Ray cluster answers at ARENA_RAY_ADDRESS=127.0.0.1:{port}" in reason
    assert "ray start --head" in reason

    monkeypatch.setenv(settings.RAY_CPUS_PER_JOB, "0")
    with pytest.raises(ArenaError, match="ARENA_RAY_CPUS_PER_JOB='0' is not a number above 0"):
        settings.ray_cpus_per_job()


def _checkpointing_session(store, name: str, strategy: str, epochs: int) -> str:
    """240 rows, a checkpoint every 3 steps: each job is busy for a few seconds, and a task
    lost mid-job leaves a checkpoint to resume from. Early stopping is off: the tiny model
    learns nothing on this data, so it would stop after 5 epochs, within a second, before a
    kill could land."""
    return new_session(
        store,
        name,
        rows=240,
        strategies={"sentiment": strategy},
        epochs=epochs,
        checkpoint_every_steps=3,
        early_stopping_patience=0,
    )


def _assert_resumed_without_repeats(folder, job) -> None:
    report = read_report(paths.job_dir(folder, job.id))
    assert report.completed and report.resumed_from_step and report.resumed_from_step > 0
    for (job_id, kind), steps in steps_per_job(folder).items():
        assert steps == sorted(set(steps)), f"{job_id} {kind} logged a step twice: {steps}"


def _has_checkpoint(job_dir) -> bool:
    """A complete checkpoint (the trainer writes trainer_state.json last)."""
    return any((job_dir / paths.JOB_CHECKPOINT).glob("checkpoint-*/trainer_state.json"))


def _checkpointed_running_job(folder, jobs):
    """A job whose task trains and has saved a checkpoint: (job, its task's pid), or None."""
    for job in jobs:
        job_dir = paths.job_dir(folder, job.id)
        live = read_live(job_dir)
        running = live is not None and live.pid and not (job_dir / paths.JOB_REPORT).exists()
        if running and _has_checkpoint(job_dir):
            return job, live.pid
    return None


@pytest.mark.slow  # kill -9 of a Ray task, then a resume that trains to the end
def test_a_killed_task_is_interrupted_then_resumed_without_repeating_a_step(
    store, on_ray, monkeypatch
):
    monkeypatch.setenv(settings.RAY_CPUS_PER_JOB, "2")  # one job at a time on the 2-CPU cluster
    session = _checkpointing_session(store, "kill-task", "one-vs-all", epochs=2)
    folder = store.session_dir(session)
    jobs = plan(store.load(session))
    control.launch(store, session)
    victim, pid = wait_for(
        lambda: _checkpointed_running_job(folder, jobs), 180, "a checkpoint", poll=0.02
    )
    os.kill(pid, signal.SIGKILL)

    assert control.wait(store, session, quiet=True, timeout=RUN_TIMEOUT) is (
        SessionStatus.INTERRUPTED
    )
    info = control.session_status(store, session)
    state = {j["id"]: j for j in info["jobs"]}
    assert state[victim.id]["status"] == "interrupted"
    assert "its Ray task died" in state[victim.id]["error"]
    assert "resume the session" in store.load(session).status_reason
    others = [j for j in jobs if j.id != victim.id]
    assert all(state[j.id]["status"] == "completed" for j in others)  # the rest went on

    control.resume(store, session)
    assert control.wait(store, session, quiet=True, timeout=RUN_TIMEOUT) is (
        SessionStatus.COMPLETED
    )
    _assert_resumed_without_repeats(folder, victim)
    progress = read_progress(folder)
    assert all(progress.jobs[j.id].skipped for j in others)  # not trained again


@pytest.mark.slow  # a node lost mid-job, then a resume on a new node
def test_a_lost_node_interrupts_its_job_and_resume_finishes_it(store, monkeypatch):
    session = _checkpointing_session(store, "lost-node", "multi-class", epochs=20)
    folder = store.session_dir(session)
    [job] = plan(store.load(session))
    # The head runs no job (0 CPU): the job trains on the second node, which is then lost.
    with local_ray_cluster(cpus=0) as address:
        monkeypatch.setenv(settings.EXECUTOR, "ray")
        monkeypatch.setenv(settings.RAY_ADDRESS, address)
        with ray_node(address, cpus=2) as node:
            control.launch(store, session)
            wait_for(lambda: _checkpointed_running_job(folder, [job]), 180, "a checkpoint", 0.02)
            node.kill()
            assert control.wait(store, session, quiet=True, timeout=RUN_TIMEOUT) is (
                SessionStatus.INTERRUPTED
            )
        [state] = control.session_status(store, session)["jobs"]
        assert state["status"] == "interrupted" and "NodeDiedError" in state["error"]

        with ray_node(address, cpus=2):  # a machine back in the cluster
            control.resume(store, session)
            assert control.wait(store, session, quiet=True, timeout=RUN_TIMEOUT) is (
                SessionStatus.COMPLETED
            )
    _assert_resumed_without_repeats(folder, job)


def _training(folder, jobs):
    """The live record of a job whose task has taken a training step, or None."""
    lives = (read_live(paths.job_dir(folder, job.id)) for job in jobs)
    return next((live for live in lives if live is not None and live.step > 0), None)


@pytest.mark.slow  # a cancel while Ray tasks train
def test_cancel_stops_the_ray_tasks(store, on_ray):
    session = new_session(
        store, "cancel", rows=240, strategies={"sentiment": "one-vs-all"}, epochs=3
    )
    folder = store.session_dir(session)
    jobs = plan(store.load(session))
    control.launch(store, session)
    live = wait_for(lambda: _training(folder, jobs), 180, "a Ray job to train")
    assert live.host == socket.gethostname()

    control.cancel(store, session)
    assert store.status(session) is SessionStatus.CANCELLED
    info = control.session_status(store, session)
    assert {j["status"] for j in info["jobs"]} <= {"completed", "cancelled"}
    assert any(j["status"] == "cancelled" for j in info["jobs"])
    # The tasks stopped at their next step: no metric line is written any more.
    lines = len(read_metrics(folder / paths.METRICS)[0])
    time.sleep(3)
    assert len(read_metrics(folder / paths.METRICS)[0]) == lines


@pytest.mark.slow  # kill -9 of the session's worker while its Ray tasks train
def test_a_killed_worker_takes_its_ray_tasks_with_it(store, on_ray):
    """Ray ties a task to the process that submitted it: no orphan task goes on writing the
    session's metrics, so a resume can never log a step twice."""
    session = new_session(
        store, "orphan", rows=240, strategies={"sentiment": "one-vs-all"}, epochs=3
    )
    folder = store.session_dir(session)
    control.launch(store, session)
    live = wait_for(lambda: _training(folder, plan(store.load(session))), 180, "a Ray job to train")
    kill_worker(folder)
    wait_for(lambda: not pid_alive(live.pid), 30, f"Ray task {live.pid} to end with its worker")
