"""Session browser scale: list 1,000 / 10,000 sessions (store API, ``list --json``, Sessions page).

The sessions are copies of one real session (created by ``arena_core.session.create`` on generated
data: 2 keys, a multi-class key and a 6-value one-vs-all key, so 7 planned models) with new ids,
names, creation dates spread over a year, a parent for 30 %, and a realistic mix of outcomes with
their progress.json and summary.json: 70 % completed, 8 % failed, 7 % cancelled, 5 % interrupted
(recorded 'running', stale heartbeat), 10 % ready. Data files are hard links (never read by list).

``list_N_s`` is the warm figure (the store keeps a listing.json per session, keyed on the
manifest's and progress file's stats); ``list_N_cold_s`` is the first listing of sessions that
have no listing.json yet (new install, freshly imported or generated sessions).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .common import ROOT, median, offline_env, page_file, python_env, rounded, scratch

if TYPE_CHECKING:
    from arena_core.session.manifest import SessionStatus
    from arena_core.store.records import Progress, Summary

SIZES = {"smoke": [50], "small": [1000], "full": [1000, 10000]}
RUNS = 3
STATUS_MIX = (  # recorded manifest statuses (SessionStatus values)
    ("completed", 0.70),
    ("failed", 0.08),
    ("cancelled", 0.07),
    ("running", 0.05),  # worker gone: reads as interrupted
    ("ready", 0.10),
)


def _template(home: Path) -> Path:
    """One real session folder to copy."""
    from arena_core.session.manifest import TrainingConfig
    from arena_core.store.session_store import SessionStore

    from .data import create_session

    store = SessionStore(home)
    session_id = create_session(
        store,
        120,
        ("category", "topics"),
        TrainingConfig(),
        strategies={"topics": "one-vs-all"},
        name="customer feedback",
    )
    return store.session_dir(session_id)


def _progress(manifest: dict[str, Any], status: SessionStatus, rng, when: datetime) -> Progress:
    from arena_core.session.manifest import SessionStatus
    from arena_core.store.records import JobProgress, JobStatus, Overall, Progress

    ended = status in (SessionStatus.FAILED, SessionStatus.CANCELLED, SessionStatus.RUNNING)
    jobs = {}
    for i, job in enumerate(manifest["plan"]):
        if status is SessionStatus.COMPLETED or (ended and i < 3):
            state = JobProgress(
                status=JobStatus.COMPLETED,
                metrics={
                    "macro_f1": round(float(rng.uniform(0.4, 0.95)), 4),
                    "accuracy": round(float(rng.uniform(0.5, 0.97)), 4),
                },
                step=75,
                total_steps=75,
            )
        elif ended and i == 3:
            state = JobProgress(status=JobStatus(status.value), step=20)
        else:
            state = JobProgress(status=JobStatus.QUEUED, step=0)
        jobs[job["id"]] = state
    return Progress(
        session=manifest["id"],
        pid=999999,
        host="bench-host",
        status=status,
        heartbeat=when.timestamp(),
        started_at=when.isoformat(timespec="seconds"),
        jobs=jobs,
        overall=Overall(),
    )


def _summary(progress: Progress) -> Summary:
    from arena_core.store.records import JobSummary, Summary

    jobs = {
        job_id: JobSummary(status=state.status, metrics=state.metrics)
        for job_id, state in progress.jobs.items()
    }
    return Summary(session=progress.session, status=progress.status, jobs=jobs)


def generate_store(home: Path, n: int, seed: int = 0) -> list[str]:
    """Fill ``home`` with ``n`` realistic sessions (see module docstring); returns their ids."""
    from arena_core.session.manifest import SessionStatus
    from arena_core.store import paths

    offline_env()
    rng = np.random.default_rng(seed)
    with scratch("template") as template_home:
        template = _template(template_home)
        base = json.loads((template / paths.MANIFEST).read_text(encoding="utf-8"))
        data_files = [p for p in (template / paths.DATA_DIR).iterdir() if p.is_file()]
        sessions_root = Path(home) / paths.SESSIONS_DIR
        sessions_root.mkdir(parents=True, exist_ok=True)
        statuses = rng.choice(
            [s for s, _ in STATUS_MIX], size=n, p=[w for _, w in STATUS_MIX]
        ).tolist()
        now = datetime.now(UTC)
        ids: list[str] = []
        for i in range(n):
            when = now - timedelta(seconds=int(rng.integers(0, 365 * 86400)))
            session_id = f"feedback-{i:05d}_{when:%Y%m%d_%H%M%S}"
            folder = sessions_root / session_id
            (folder / paths.DATA_DIR).mkdir(parents=True)
            for src in data_files:
                _link(src, folder / paths.DATA_DIR / src.name)
            status = SessionStatus(statuses[i])
            manifest = dict(base)
            manifest.update(
                id=session_id,
                name=f"customer feedback {i}",
                created_at=when.isoformat(timespec="seconds"),
                updated_at=when.isoformat(timespec="seconds"),
                status=status,
                status_reason=(
                    "1 of 7 jobs failed: out of memory" if status is SessionStatus.FAILED else None
                ),
                parent=ids[int(rng.integers(0, len(ids)))] if ids and rng.random() < 0.3 else None,
            )
            manifest["training"] = {**base["training"], "epochs": int(rng.integers(1, 6))}
            (folder / paths.MANIFEST).write_text(json.dumps(manifest, indent=2), "utf-8")
            if status is not SessionStatus.READY:
                progress = _progress(manifest, status, rng, when)
                (folder / paths.PROGRESS).write_text(json.dumps(progress.model_dump()), "utf-8")
                if status is not SessionStatus.RUNNING:
                    summary = _summary(progress).model_dump()
                    (folder / paths.SUMMARY).write_text(json.dumps(summary), "utf-8")
            ids.append(session_id)
    return ids


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def time_store_list(home: Path, runs: int = RUNS) -> dict[str, Any]:
    """``SessionStore(home).list()``: the first call (cold: no listing cache yet, it writes
    one listing.json per session) and the median of ``runs`` calls (warm: the steady state)."""
    from arena_core.store.session_store import SessionStore

    seconds, count = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        count = len(SessionStore(home).list())
        seconds.append(time.perf_counter() - start)
    return {"median_s": rounded(median(seconds)), "first_s": rounded(seconds[0]), "count": count}


def time_cli_list(home: Path, runs: int = RUNS) -> dict[str, Any]:
    """``python -m arena_core list --json`` wall time (interpreter start included)."""
    seconds, count = [], 0
    command = [sys.executable, "-m", "arena_core", "--home", str(home), "list", "--json"]
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            command, env=python_env(), cwd=ROOT, capture_output=True, check=True, text=True
        )
        seconds.append(time.perf_counter() - start)
        count = len(json.loads(done.stdout))
    start = time.perf_counter()  # the part that does not depend on the number of sessions
    subprocess.run(
        [sys.executable, "-c", "import arena_core.cli"], env=python_env(), cwd=ROOT, check=True
    )
    startup = time.perf_counter() - start
    return {"median_s": rounded(median(seconds)), "startup_s": rounded(startup), "count": count}


def time_page(home: Path) -> dict[str, Any]:
    """First render of the Sessions page with AppTest (None when the page does not exist)."""
    page = page_file("sessions.py")
    if not page.is_file():
        return {"first_render_s": None, "note": f"{page.relative_to(ROOT)} not found"}
    from streamlit.testing.v1 import AppTest

    previous = os.environ.get("ARENA_HOME")
    os.environ["ARENA_HOME"] = str(home)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        app = AppTest.from_file(str(page), default_timeout=300)
        start = time.perf_counter()
        app.run()
        seconds = time.perf_counter() - start
        errors = [str(e.value) for e in app.exception]
    finally:
        if previous is None:
            os.environ.pop("ARENA_HOME", None)
        else:
            os.environ["ARENA_HOME"] = previous
    return {"first_render_s": rounded(seconds), "exceptions": errors}


def measure(n: int, cli: bool = True, page: bool = True) -> dict[str, Any]:
    """Generate ``n`` sessions in a scratch home and time each way of listing them."""
    with scratch(f"list{n}") as home:
        start = time.perf_counter()
        generate_store(home, n)
        result: dict[str, Any] = {"n": n, "generate_s": rounded(time.perf_counter() - start)}
        result["store_list"] = time_store_list(home)
        if cli:
            result["cli_list_json"] = time_cli_list(home)
        if page:
            result["sessions_page"] = time_page(home)
    return result


def run(size: str = "small") -> dict[str, Any]:
    cheap = size == "smoke"
    measured = {n: measure(n, cli=not cheap, page=not cheap) for n in SIZES[size]}

    def seconds(n: int, which: str = "median_s") -> float | None:
        return measured[n]["store_list"][which] if n in measured else None

    return {
        "figures": {
            "list_1000_s": seconds(1000),
            "list_10000_s": seconds(10000),
            "list_1000_cold_s": seconds(1000, "first_s"),
            "list_10000_cold_s": seconds(10000, "first_s"),
        },
        "details": {str(n): m for n, m in measured.items()},
    }
