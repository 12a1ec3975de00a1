"""Shared test setup: offline, a fresh ARENA_HOME per test, artifacts folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["browser_fixtures"]  # chromium, app, page: see browser_fixtures.py

# No code path may download: make any accidental hub access fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh, empty ARENA_HOME for this test (also exported for subprocesses)."""
    folder = tmp_path / "arena_home"
    monkeypatch.setenv("ARENA_HOME", str(folder))
    return folder


@pytest.fixture
def store(home):
    from arena_core.store.session_store import SessionStore

    return SessionStore(home)


@pytest.fixture
def artifacts_dir(request) -> Path:
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
