"""One-vs-all cost: 6 binary jobs in one worker vs 6 x one binary job run alone.

Both run the real worker (``python -m arena_core run ID``) on generated data with the same
texts. Shared: one session whose 6-value key ``topics`` is trained one-vs-all (6 jobs, texts
tokenized once, one process, the model files warm). Alone: a session with one binary key
(``is_delivery`` yes/no, the same rows and the same size as one of the six jobs), so one
process, one tokenization and one model load for one job. The ratio shared / (6 x alone) shows
what sharing saves; below 1 is a saving.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .common import median, offline_env, rounded, run_worker, scratch, worker_log_events

SIZES = {
    "smoke": {"rows": 60, "epochs": 1, "model": "tiny", "alone_runs": 1},
    "small": {"rows": 300, "epochs": 1, "model": "minilm", "alone_runs": 1},
    "full": {"rows": 1000, "epochs": 1, "model": "minilm", "alone_runs": 2},
}
N_VALUES = 6
EVENTS = {
    "worker": r"worker pid",
    "first_job": r"job \S+: start",
    "end": r"session \S+ (completed|failed|cancelled)",
}


def _run(home: Path, session_id: str) -> dict[str, Any]:
    from arena_core.session.manifest import SessionStatus
    from arena_core.store import paths
    from arena_core.store.session_store import SessionStore

    store = SessionStore(home)
    started = time.time()
    wall, code = run_worker(home, session_id)
    manifest = store.load(session_id)
    if manifest.status is not SessionStatus.COMPLETED:
        raise RuntimeError(
            f"session {session_id} ended {manifest.status.value}: {manifest.status_reason}"
        )
    events = worker_log_events(store.session_dir(session_id) / paths.WORKER_LOG, EVENTS)
    phases = {}
    if "worker" in events and "first_job" in events:
        phases["start_s"] = rounded(events["worker"] - started)  # interpreter + imports
        phases["load_data_s"] = rounded(events["first_job"] - events["worker"])
    if "end" in events and "first_job" in events:
        phases["jobs_s"] = rounded(events["end"] - events["first_job"])
    return {"wall_s": rounded(wall), "exit_code": code, "jobs": len(manifest.plan), **phases}


def run(size: str = "small") -> dict[str, Any]:
    from arena_core.session.manifest import TrainingConfig
    from arena_core.store.session_store import SessionStore

    from .data import create_session

    offline_env()
    spec = SIZES[size]
    config = TrainingConfig(model=spec["model"], epochs=spec["epochs"])
    with scratch("ova") as home:
        store = SessionStore(home)
        shared_id = create_session(
            store, spec["rows"], ("topics",), config, strategies={"topics": "one-vs-all"}
        )
        alone_runs = []
        for _ in range(spec["alone_runs"]):
            alone_id = create_session(store, spec["rows"], ("is_delivery",), config)
            alone_runs.append(_run(home, alone_id))
        shared = _run(home, shared_id)
    if shared["jobs"] != N_VALUES:
        raise RuntimeError(f"expected {N_VALUES} one-vs-all jobs, the plan has {shared['jobs']}")
    alone_wall = median([r["wall_s"] for r in alone_runs])
    return {
        "figures": {"ova_shared_vs_separate_ratio": rounded(shared["wall_s"] / (6 * alone_wall))},
        "details": {
            "size": spec,
            "shared_6_jobs": shared,
            "one_binary_job_alone": alone_runs,
            "six_times_alone_s": rounded(6 * alone_wall),
        },
    }
