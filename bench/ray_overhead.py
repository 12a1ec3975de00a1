"""The Ray executor against the local one on this machine: wall time per session, jobs/s, and
the overhead Ray adds per job.

One one-vs-all session of 6 small jobs (tiny model: training takes about a second a job, so the
executor's own costs show) is trained from the worker's start to its end three ways, on a local
Ray cluster started here (``bench/ray_cluster.py``):
- local: today's worker, jobs one after another in its process;
- ray, one at a time: each job a Ray task reserving both CPUs, so jobs run one after another
  as locally; the difference is Ray's overhead (connect, submit, a task process that loads
  the data and tokenizes again, live.json, results);
- ray, parallel: each job one CPU, two at a time.

``ray_overhead_s_per_job`` = (ray one-at-a-time wall - local wall) / jobs, median over rounds.
The first Ray round also starts Ray's worker processes (torch imported there): reported apart
as ``first_round``, left out of the medians when there are several rounds.
"""

from __future__ import annotations

import os
from typing import Any
from unittest import mock

from .common import median, offline_env, rounded, run_worker, scratch

SIZES = {
    "smoke": {"rows": 120, "rounds": 1},
    "small": {"rows": 300, "rounds": 2},
    "full": {"rows": 600, "rounds": 4},
}
KEYS = ("topics",)  # 6 topics: 6 one-vs-all jobs
VARIANTS = {  # name -> the environment of its worker
    "local": {"ARENA_EXECUTOR": "local"},
    "ray_one_at_a_time": {"ARENA_EXECUTOR": "ray", "ARENA_RAY_CPUS_PER_JOB": "2"},
    "ray_parallel": {"ARENA_EXECUTOR": "ray", "ARENA_RAY_CPUS_PER_JOB": "1"},
}


def _train(store, rows: int, variant: str, address: str) -> dict[str, Any]:
    from arena_core.session.manifest import SessionStatus, TrainingConfig

    from .data import create_session

    config = TrainingConfig(model="tiny", epochs=1, max_length=64)
    session = create_session(
        store, rows, KEYS, config, strategies={"topics": "one-vs-all"}, name=variant
    )
    with mock.patch.dict(os.environ, {**VARIANTS[variant], "ARENA_RAY_ADDRESS": address}):
        wall, code = run_worker(store.home, session, timeout=900)
    status = store.status(session)
    if code != 0 or status is not SessionStatus.COMPLETED:
        raise RuntimeError(f"{variant}: session {session} ended {status.value} (exit {code})")
    return {"wall_s": rounded(wall), "jobs": len(store.load(session).plan)}


def run(size: str = "small") -> dict[str, Any]:
    from arena_core.store.session_store import SessionStore

    from .ray_cluster import local_ray_cluster

    offline_env()
    spec = SIZES[size]
    rounds: list[dict[str, Any]] = []
    with scratch("ray") as home, local_ray_cluster(cpus=2) as address:
        store = SessionStore(home)
        for index in range(spec["rounds"]):
            order = list(VARIANTS) if index % 2 == 0 else list(reversed(VARIANTS))
            rounds.append({v: _train(store, spec["rows"], v, address) for v in order})
    counted = rounds[1:] or rounds  # the first round also starts Ray's worker processes
    jobs = rounds[0]["local"]["jobs"]
    walls = {v: median([r[v]["wall_s"] for r in counted]) for v in VARIANTS}
    overhead = (walls["ray_one_at_a_time"] - walls["local"]) / jobs
    return {
        "figures": {"ray_overhead_s_per_job": rounded(overhead, 2)},
        "details": {
            "size": {**spec, "jobs": jobs, "model": "tiny"},
            "wall_s": walls,
            "jobs_per_s": {v: rounded(jobs / w, 3) for v, w in walls.items()},
            "first_round": rounds[0],
            "rounds": rounds,
        },
    }
