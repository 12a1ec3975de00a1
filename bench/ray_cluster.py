"""A real local Ray cluster, for the Ray executor's tests and benchmark: ``ray start --head``
on a free port, stopped (with everything it started) when done."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _ray_cli() -> str:
    ray_cli = shutil.which("ray")
    if ray_cli is None:
        raise RuntimeError("no 'ray' command: pip install -e '.[ray]' (or requirements-dev.txt)")
    return ray_cli


def _start(arguments: list[str], log: Path) -> subprocess.Popen:
    """``ray start ... --block``: in the foreground, so SIGINT stops it and all it started."""
    with open(log, "wb") as output:
        return subprocess.Popen(
            [_ray_cli(), "start", *arguments, "--disable-usage-stats", "--block"],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killable as one (a lost machine)
        )


def _wait_until(ready, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"'ray start' did not {what}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def local_ray_cluster(cpus: int = 2) -> Iterator[str]:
    """A head node with ``cpus`` CPUs; yields its address (for ARENA_RAY_ADDRESS)."""
    port = _free_port()
    # Ray's socket paths live under its temp dir and must stay short: a folder of /tmp.
    temp_dir = tempfile.mkdtemp(prefix="arena-ray-", dir="/tmp")
    head = _start(
        [
            "--head",
            f"--port={port}",
            f"--num-cpus={cpus}",
            "--num-gpus=0",
            "--object-store-memory=200000000",  # nothing big crosses the object store
            "--include-dashboard=false",
            f"--temp-dir={temp_dir}",
        ],
        Path(temp_dir) / "head.log",
    )
    try:
        _wait_until(lambda: _listening(port), head, f"listen on port {port}")
        yield f"127.0.0.1:{port}"
    finally:
        _stop(head)
        shutil.rmtree(temp_dir, ignore_errors=True)


class RayNode:
    """A second node of a local cluster (``ray start --address``), on this machine."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process

    def kill(self) -> None:
        """kill -9 of the node's raylet and every task process on it: a machine lost."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@contextmanager
def ray_node(address: str, cpus: int = 2) -> Iterator[RayNode]:
    """A node with ``cpus`` CPUs joined to the cluster at ``address`` (ready when yielded)."""
    log = Path(tempfile.mkdtemp(prefix="arena-ray-node-", dir="/tmp")) / "node.log"
    process = _start(
        [f"--address={address}", f"--num-cpus={cpus}", "--object-store-memory=100000000"], log
    )
    try:
        _wait_until(lambda: b"Ray runtime started" in log.read_bytes(), process, "join")
        yield RayNode(process)
    finally:
        _stop(process)
        shutil.rmtree(log.parent, ignore_errors=True)
