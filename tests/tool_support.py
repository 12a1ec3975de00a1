"""Tests that need a tool from outside Python (Chromium, glibc, fork): a loud skip on a machine
without it, a failure where the tools are required (CI).

``ARENA_REQUIRE_TOOLS=1`` (set by .ci/run) or ``CI=true`` (set by CI services) turns every such
skip into a failure, so a missing tool can never pass CI silently.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ENV = "ARENA_REQUIRE_TOOLS"


def tools_required(also: str | None = None) -> str | None:
    """The variable that requires the tools here ($ARENA_REQUIRE_TOOLS, $CI, or ``also``)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        return f"{REQUIRE_ENV}=1"
    if also and os.environ.get(also) == "1":
        return f"{also}=1"
    if os.environ.get("CI", "").lower() == "true":
        return "CI=true"
    return None


def missing_tool(problem: str, also: str | None = None) -> NoReturn:
    """Skip loudly with ``problem``, or fail when the tools are required here."""
    message = f"TOOL MISSING, TEST NOT RUN: {problem}"
    required = tools_required(also)
    if required:
        pytest.fail(f"{message} ({required} requires it)", pytrace=False)
    pytest.skip(message)


def missing_quality_data(*names: str) -> None:
    """Skip (or fail where required, $ARENA_REQUIRE_QUALITY_DATA too) when a text collection of
    the quality benchmark is not installed; return quietly when they all are."""
    from bench import quality_data

    absent = quality_data.missing(list(names))
    if absent:
        hints = "; ".join(quality_data.install_hint(name) for name in absent)
        missing_tool(
            f"quality collections {absent} not installed: {hints}", "ARENA_REQUIRE_QUALITY_DATA"
        )
