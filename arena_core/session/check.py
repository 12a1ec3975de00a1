"""Is a saved session complete? Its missing or inconsistent strategy fields, plan and files.

For native and imported sessions alike: pages and the CLI show the problems, relaunch and
repair refuse or act on them. Apart from ``manifest`` (the schema, reading and writing) because
this is a verdict on a manifest, and it needs the planner and the split reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from arena_core.errors import ArenaError
from arena_core.session.manifest import (
    STRATEGY_FIELDS,
    STRATEGY_LISTS,
    SessionManifest,
    file_sha256,
)
from arena_core.session.plan import plan_with_notes
from arena_core.session.strategy import Strategy


class Problem(BaseModel):
    """One thing wrong with a session: the field concerned, how bad, and what to tell the user."""

    field: str
    severity: Literal["error", "warning"]
    message: str


def _error(field: str, message: str) -> Problem:
    return Problem(field=field, severity="error", message=message)


def _warning(field: str, message: str) -> Problem:
    return Problem(field=field, severity="warning", message=message)


def is_complete(problems: list[Problem]) -> bool:
    """True when no problem is an error (warnings do not stop training)."""
    return not any(p.severity == "error" for p in problems)


def check(manifest: SessionManifest, session_dir: Path | None = None) -> list[Problem]:
    """Every missing or inconsistent strategy field; with ``session_dir`` also the files."""
    problems = _check_strategy_fields(manifest)
    problems.extend(_check_files_per_key(manifest, session_dir))
    problems.extend(_check_plan(manifest))
    if session_dir is not None:
        problems.extend(_check_files(manifest, session_dir))
    return problems


def _check_strategy_fields(manifest: SessionManifest) -> list[Problem]:
    """Missing strategy fields, and key_strategies against the keys and the per-strategy lists."""
    problems: list[Problem] = []
    for name in STRATEGY_FIELDS:
        if getattr(manifest, name) is None:
            problems.append(
                _error(
                    name,
                    f"'{name}' is missing: the saved session does not say how to train its keys.",
                )
            )
    keys = set(manifest.keys)
    strategies = manifest.key_strategies
    if strategies is None:
        return problems
    for key in sorted(keys - set(strategies)):
        problems.append(_error("key_strategies", f"key '{key}' has no entry in 'key_strategies'."))
    for key in sorted(set(strategies) - keys):
        problems.append(
            _error(
                "key_strategies",
                f"'key_strategies' names '{key}', which is not a key of the dataset.",
            )
        )
    for key, strategy in strategies.items():
        if strategy is Strategy.AUTO:
            problems.append(
                _error("key_strategies", f"key '{key}' is still 'auto' (never resolved).")
            )
        list_name = STRATEGY_LISTS.get(strategy)
        members = getattr(manifest, list_name) if list_name else None
        if list_name and members is not None and key not in members:
            problems.append(
                _error(
                    list_name,
                    f"key '{key}' is {strategy.value} in 'key_strategies' but absent from '{list_name}'.",
                )
            )
    for strategy, list_name in STRATEGY_LISTS.items():
        for key in getattr(manifest, list_name) or []:
            if strategies.get(key) is not strategy:
                problems.append(
                    _error(
                        list_name,
                        f"'{list_name}' lists '{key}', but 'key_strategies' says {strategies.get(key, 'nothing')}.",
                    )
                )
    return problems


def _check_files_per_key(manifest: SessionManifest, session_dir: Path | None) -> list[Problem]:
    """Every key has a data file in files_per_key, present on disk when ``session_dir`` is given."""
    if manifest.files_per_key is None:
        return []
    problems = [
        _error("files_per_key", f"key '{key}' has no data file in 'files_per_key'.")
        for key in sorted(set(manifest.key_strategies or {}) - set(manifest.files_per_key))
    ]
    if session_dir is not None:
        for key, rel in manifest.files_per_key.items():
            if not (session_dir / rel).is_file():
                problems.append(
                    _error(
                        "files_per_key", f"the data file of key '{key}' ({rel}) is missing on disk."
                    )
                )
    return problems


def _check_plan(manifest: SessionManifest) -> list[Problem]:
    """The plan derived from the strategy fields: why none can be made, its notes, and whether
    the saved plan still matches it."""
    if manifest.key_strategies is None:
        return []
    try:
        jobs, notes = plan_with_notes(manifest)
    except ArenaError as exc:
        return [_error("plan", str(exc))]
    problems = [_warning("plan", note) for note in notes]
    if manifest.plan and manifest.plan != jobs:
        problems.append(
            _warning(
                "plan", "the saved plan differs from the plan derived from the strategy fields."
            )
        )
    return problems


def _check_files(manifest: SessionManifest, session_dir: Path) -> list[Problem]:
    """The dataset snapshot and the split file: present, and unchanged since creation."""
    from arena_core.data.splits import (
        read_split,  # local import: pandas is only needed for file checks
    )

    if manifest.origin == "legacy" and not manifest.dataset.snapshot_sha256:
        # The legacy data files could not be turned into a training table at import.
        return [
            _error(
                "dataset",
                "the legacy data could not be turned into a training table (see the notes).",
            )
        ]
    problems: list[Problem] = []
    snapshot = session_dir / manifest.dataset.snapshot_file
    if not snapshot.is_file():
        problems.append(
            _error("dataset", f"dataset snapshot {manifest.dataset.snapshot_file} is missing.")
        )
    elif (
        manifest.dataset.snapshot_sha256
        and file_sha256(snapshot) != manifest.dataset.snapshot_sha256
    ):
        problems.append(
            _error(
                "dataset",
                "dataset snapshot changed since the session was created (hash differs).",
            )
        )
    split_path = session_dir / manifest.split.file
    if not split_path.is_file():
        problems.append(_error("split", f"split file {manifest.split.file} is missing."))
        return problems
    try:
        _, digest = read_split(split_path)
    except ArenaError as exc:
        problems.append(_error("split", str(exc)))
    else:
        if manifest.split.sha256 and digest != manifest.split.sha256:
            problems.append(_error("split", "split assignment differs from the saved hash."))
    return problems
