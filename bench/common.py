"""Shared benchmark helpers: machine description, medians, scratch folders, the worker process."""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZES = ("smoke", "small", "full")
ENV_SCRATCH = "BENCH_TMP"  # where scratch ARENA_HOMEs go (default: the system temp folder)


def page_file(name: str) -> Path:
    """A dashboard page file (app_pages/ since the pages moved there; pages/ before)."""
    for folder in ("app_pages", "pages"):
        if (ROOT / folder / name).is_file():
            return ROOT / folder / name
    return ROOT / "app_pages" / name


def offline_env() -> None:
    """No downloads, no tokenizer thread pools fighting the trainer, quiet transformers."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def machine() -> dict[str, Any]:
    """What the figures were measured on (cores, RAM, CPU, load) and when."""
    import psutil

    cpu = platform.processor()
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"model name\s*:\s*(.+)", text)
        cpu = found.group(1).strip() if found else cpu
    except OSError:
        pass
    versions = {}
    for name in ("torch", "transformers", "streamlit"):
        try:
            from importlib import metadata

            versions[name] = metadata.version(name)
        except Exception:  # noqa: BLE001 - a missing package only loses a label
            versions[name] = None
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": cpu,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        **versions,
    }


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


@contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A temporary folder removed afterwards (``BENCH_TMP`` chooses the disk)."""
    base = os.environ.get(ENV_SCRATCH) or None
    with tempfile.TemporaryDirectory(prefix=f"bench-{prefix}-", dir=base) as folder:
        yield Path(folder)


def python_env() -> dict[str, str]:
    """Environment for subprocesses: repo on the path, offline."""
    offline_env()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def worker_command(home: Path, session_id: str) -> list[str]:
    """The worker as jobs.launch starts it (without detaching, so we can wait and measure)."""
    return [sys.executable, "-m", "arena_core", "--home", str(home), "run", session_id]


def start_worker(home: Path, session_id: str) -> subprocess.Popen:
    """Start a session's worker as a child process (output discarded: it logs to worker.log)."""
    return subprocess.Popen(
        worker_command(home, session_id),
        env=python_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_worker(home: Path, session_id: str, timeout: float = 3600) -> tuple[float, int]:
    """Run a session's worker to its end; (wall seconds, exit code)."""
    start = time.perf_counter()
    process = start_worker(home, session_id)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    return time.perf_counter() - start, process.returncode


_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def worker_log_events(path: Path, patterns: dict[str, str]) -> dict[str, float]:
    """Epoch time of the first worker.log line matching each pattern (logging's asctime)."""
    found: dict[str, float] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        stamp = _LOG_TIME.match(line)
        if not stamp:
            continue
        for name, pattern in patterns.items():
            if name not in found and re.search(pattern, line):
                when = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f")
                found[name] = when.timestamp()
    return found


def session_metrics_path(home: Path, session_id: str) -> Path:
    from arena_core.store import paths
    from arena_core.store.session_store import SessionStore

    return SessionStore(home).session_dir(session_id) / paths.METRICS


@contextmanager
def recorded_batches(owner: Any) -> Iterator[list[tuple[int, int]]]:
    """(rows, padded length) of every ``training_step`` of ``owner`` (a Trainer class or one
    Trainer) while inside: the work the batches really contain, padding included. Behaviour
    unchanged; afterwards the method is what it was (own or inherited)."""
    shapes: list[tuple[int, int]] = []
    own = vars(owner).get("training_step")
    original = owner.training_step
    is_class = isinstance(owner, type)

    def recorded(*args, **kwargs):
        inputs = args[2] if is_class else args[1]  # (self,) model, inputs, ...
        rows, length = inputs["input_ids"].shape[:2]
        shapes.append((int(rows), int(length)))
        return original(*args, **kwargs)

    owner.training_step = recorded
    try:
        yield shapes
    finally:
        if own is None:
            del owner.training_step  # back to the inherited method
        else:
            owner.training_step = own


@contextmanager
def log_levels_kept(*names: str) -> Iterator[None]:
    """Restore these loggers' levels afterwards: measures quieten 'arena_core' and
    'transformers' for their own run, and must not silence whatever runs after them in the
    same process (the test suite runs measures in-process)."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def print_and_save(document: dict[str, Any], path: Path | None) -> None:
    """A measure run as its own script: its figures on stdout, the whole document to ``path``."""
    print(json.dumps(document["figures"]))
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
