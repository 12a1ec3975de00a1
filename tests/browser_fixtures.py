"""Fixtures of the real-browser tests: Chromium, the dashboard for the test's ARENA_HOME, a tab.

Registered for every test module by conftest.py (pytest_plugins), so browser test files share
them without importing them.
"""

from __future__ import annotations

import contextlib

import pytest
from browser_support import VIEWPORT, browser, require_browser, running_app, shot

UI_TIMEOUT = 30  # s: one page render


@pytest.fixture(scope="module")
def chromium():
    """One Chromium per test module (each test gets its own context: no shared state)."""
    require_browser()  # skip/fail before starting any server
    with browser() as instance:
        yield instance


@pytest.fixture
def app(home, tmp_path):
    """The dashboard on a free port for this test's ARENA_HOME (stopped, with its workers)."""
    require_browser()
    with running_app(home, log_dir=tmp_path) as running:
        yield running
        if running.process.poll() is not None:
            pytest.fail(f"the server died during the test:\n{running.log_tail()}")


@contextlib.contextmanager
def new_tab(chromium, request, artifacts_dir, init_script: str | None = None, **options):
    """A fresh browser tab in its own context (``options`` go to new_context); when the test
    failed, its last state is saved as 99-failure.png."""
    context = chromium.new_context(viewport=VIEWPORT, **options)
    if init_script:
        context.add_init_script(init_script)
    context.set_default_timeout(UI_TIMEOUT * 1000)
    tab = context.new_page()
    failed_before = request.session.testsfailed
    try:
        yield tab
    finally:
        if request.session.testsfailed > failed_before:
            with contextlib.suppress(Exception):
                shot(tab, artifacts_dir, "99-failure")
        context.close()


@pytest.fixture
def page(chromium, request, artifacts_dir):
    with new_tab(chromium, request, artifacts_dir) as tab:
        yield tab
