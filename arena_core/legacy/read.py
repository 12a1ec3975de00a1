"""Finding and reading the previous tool's session folders (see docs/legacy-sessions.md).

Nothing here writes: folders are searched, metadata is parsed (primary file, then backup),
recorded file paths (often absolute, from another machine) are found by file name, and the
format's words (strategy names, file-name roles) are normalised. ``legacy_map`` maps what is read
onto our fields; ``legacy`` builds and imports sessions.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena_core.errors import ArenaError, ManifestError
from arena_core.legacy.data_files import CONSOLIDATED_NAME, ONEVSALL_NAME, LegacyLayout
from arena_core.session.manifest import file_sha256
from arena_core.session.strategy import Strategy
from arena_core.store import paths

log = logging.getLogger(__name__)

# Names of the previous tool's on-disk format (not ours to change).
METADATA_DIR = "training_session_metadata"
METADATA = "training_metadata.json"
METADATA_BACKUP = "training_metadata_backup.json"
RESUME = "resume.json"
DATA_DIR = "training_data"
LEGACY_DATA = f"{paths.LEGACY_DIR}/{DATA_DIR}"  # where data files go inside our session
MAX_DEPTH = 4  # how deep a parent folder is searched for sessions
DEFAULT_SEED = 42
FILE_SECTIONS = ("training_files", "files_per_key")  # where the metadata names its data files
FALLBACK_SECTION = "data_files"  # files found by name when the metadata names none

STRATEGY_WORDS = {
    "multiclass": Strategy.MULTI_CLASS,
    "onevsall": Strategy.ONE_VS_ALL,
    "onevsrest": Strategy.ONE_VS_ALL,
    "multilabel": Strategy.MULTI_LABEL,
}
STAMP = re.compile(r"_\d{8}_\d{6}$")


# ---------------------------------------------------------------- finding and reading


def root_of(path: Path) -> Path:
    path = Path(path).expanduser().resolve()
    return path.parent if path.name == METADATA_DIR else path


def is_legacy_session(folder: Path) -> bool:
    """A folder holding legacy metadata (or at least the resume.json of one)."""
    folder = Path(folder)
    return (
        (folder / METADATA_DIR).is_dir()
        or (folder / METADATA).is_file()
        or (folder / METADATA_BACKUP).is_file()
        or (folder / RESUME).is_file()
    )


def find_sessions(path: Path) -> list[Path]:
    """``path`` itself when it is a legacy session, else every session below it (sorted)."""
    root = root_of(path)
    if not root.is_dir():
        raise ArenaError(f"{path} is not a folder: give a legacy session folder or its parent.")
    if is_legacy_session(root):
        return [root]
    found: list[Path] = []

    def walk(folder: Path, depth: int) -> None:
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir())
        except OSError as exc:
            log.warning("cannot list %s: %s", folder, exc)
            return
        for child in children:
            if child.name.startswith("."):
                continue
            if is_legacy_session(child):
                found.append(child)
            elif depth < MAX_DEPTH:
                walk(child, depth + 1)

    walk(root, 1)
    return found


@dataclass
class LegacyMetadata:
    """The metadata as read, which file it came from, and the identity of the folder."""

    folder: Path
    data: dict[str, Any]
    file: Path
    sha256: str  # of the primary metadata file (of the file read when there is no primary)
    warnings: list[str] = field(default_factory=list)


def first_existing(folder: Path, name: str) -> Path | None:
    for candidate in (folder / METADATA_DIR / name, folder / name):
        if candidate.is_file():
            return candidate
    return None


def _parse_metadata(path: Path) -> dict[str, Any]:
    """The metadata dict, or ValueError with a reason a user understands."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated")
        hint = ", the file looks truncated" if truncated else ""
        raise ValueError(
            f"invalid JSON ({exc.msg}, line {exc.lineno} column {exc.colno}{hint})"
        ) from None
    if not isinstance(data, dict) or not (
        {"dataset_config", "training_session", "metadata_version"} & set(data)
    ):
        raise ValueError("not a Training Arena metadata file (no dataset_config section)")
    return data


def read_metadata(folder: Path) -> LegacyMetadata:
    """Read training_metadata.json, falling back to the backup; ManifestError when neither."""
    folder = root_of(folder)
    primary = first_existing(folder, METADATA)
    backup = first_existing(folder, METADATA_BACKUP)
    reasons = []
    for path in (primary, backup):
        if path is None:
            continue
        try:
            data = _parse_metadata(path)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            reasons.append(f"{path.name}: {reason}")
            continue
        warnings = []
        if path is backup:
            first = reasons[0] if reasons else f"{METADATA} is missing"
            warnings.append(f"{first}; read {METADATA_BACKUP} instead (it may be one save older).")
            log.warning("%s: %s", folder.name, warnings[-1])
        try:
            digest = file_sha256(primary if primary is not None else path)
        except OSError:
            digest = file_sha256(path)
        return LegacyMetadata(folder, data, path, digest, warnings)
    if not reasons:
        reasons.append(f"no {METADATA} or {METADATA_BACKUP} in {folder / METADATA_DIR}")
    raise ManifestError(
        f"Legacy session {folder} is unreadable: " + "; ".join(reasons) + ". Nothing was imported."
    )


def file_name(recorded: str) -> str:
    return re.split(r"[\\/]", str(recorded).strip())[-1]


def legacy_target(recorded: str) -> str:
    """Where a recorded data file lives inside our session folder."""
    return f"{LEGACY_DATA}/{file_name(recorded)}"


def resolve_recorded(folder: Path, recorded: str) -> Path | None:
    """A recorded path (often absolute, from another machine), found by name in the folder."""
    name = file_name(recorded)
    if not name:
        return None
    relative = folder / str(recorded)
    if not Path(recorded).is_absolute() and relative.is_file():
        return relative
    direct = folder / DATA_DIR / name
    if direct.is_file():
        return direct
    matches = sorted(p for p in folder.rglob(name) if p.is_file())
    return matches[0] if matches else None


# ---------------------------------------------------------------- the format's words


def normalise_strategy(value: Any) -> Strategy | None:
    word = re.sub(r"[^a-z]", "", str(value).lower())
    return STRATEGY_WORDS.get(word)


def section_of(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def str_list(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def role_from_name(name: str, keys: list[str]) -> tuple[str, str | None]:
    """('multiclass', key) / ('onevsall', None) / ('consolidated', None) / ('other', None)."""
    stem = Path(name).stem
    if stem.startswith("multiclass_"):
        rest = stem[len("multiclass_") :]
        matches = [k for k in keys if rest == k or rest.startswith(k + "_")]
        if matches:
            return "multiclass", max(matches, key=len)
        return "multiclass", STAMP.sub("", rest) or None
    if stem.startswith("onevsall"):
        return "onevsall", None
    if stem.startswith("multilabel"):
        return "consolidated", None
    return "other", None


def file_roles(
    targets: dict[str, str], locate: Callable[[str], Path | None], result: LegacyLayout
) -> LegacyLayout:
    """Fill ``result`` with the files that ``locate`` finds: one-vs-all, consolidated, or the
    multi-class file of the key the entry is named after."""
    for name, target in targets.items():
        path = locate(target)
        if path is None:
            continue
        if name == ONEVSALL_NAME:
            result.onevsall = path
        elif name == CONSOLIDATED_NAME:
            result.consolidated = path
        else:
            result.multiclass[name] = path
    return result
