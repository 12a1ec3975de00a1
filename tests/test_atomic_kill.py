"""Atomic metadata under kill -9: a process rewriting a manifest in a loop is killed at random
moments; after every kill the manifest (or its backup) must load and validate."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest
from factories import new_session
from tool_support import missing_tool

from arena_core.session.manifest import SessionStatus, read_manifest, write_manifest
from arena_core.store import paths

KILLS = 200


def _rewrite_forever(folder) -> None:
    """Child body: rewrite the manifest as fast as possible, with changing content."""
    manifest, _ = read_manifest(folder)
    statuses = list(SessionStatus)
    i = 0
    while True:
        i += 1
        manifest.status = statuses[i % len(statuses)]
        manifest.notes = [f"rewrite {i}"] * (i % 50)  # vary the size so truncation would show
        write_manifest(folder, manifest)


@pytest.mark.slow  # a kill -9 loop
def test_manifest_survives_random_kill_9(store, capsys):
    if not hasattr(os, "fork"):
        missing_tool("os.fork (a POSIX system) to kill a writer mid-write")
    session = store.load(new_session(store))
    folder = store.session_dir(session.id)
    rng = random.Random(1234)
    fell_back = 0
    for _ in range(KILLS):
        pid = os.fork()
        if pid == 0:  # child
            try:
                _rewrite_forever(folder)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.001, 0.04))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        manifest, warnings = read_manifest(folder)  # raises if neither file is valid
        assert manifest.id == session.id
        fell_back += bool(warnings)
    leftovers = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    for tmp in leftovers:  # age them past the cutoff: the next write must sweep them
        os.utime(tmp, (time.time() - 3600, time.time() - 3600))
    write_manifest(folder, read_manifest(folder)[0])
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    with capsys.disabled():
        print(
            f"\n[atomic kill -9] {KILLS} kills, 0 corrupt manifests, "
            f"{fell_back} loads used the backup, {len(leftovers)} killed writers' temp files swept"
        )
    assert (folder / paths.MANIFEST).exists()
