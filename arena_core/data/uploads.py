"""Uploaded files -> ARENA_HOME/uploads/<sha256[:16]>_<safe name>.

The name comes from the user's browser, so it is reduced to safe characters and checked to
stay inside the uploads folder before anything is written. The content hash in the file name
makes the same upload land on the same file, and different files with one name never clash.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from arena_core.errors import StorageError
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_bytes

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_upload_name(name: str) -> str:
    """The file's base name with safe characters only: it can never leave the uploads folder.

    The stem is cut to 100 characters and the extension (kept, lower-cased, at most 10
    characters) is never cut off, so a long name still reads as the right format.
    """
    base = re.split(r"[\\/]", str(name))[-1].strip()
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE.sub("_", stem).lstrip("._-")[:100] or "upload"
    suffix = _UNSAFE.sub("_", suffix).strip("._").lower()[:10]
    return f"{stem}.{suffix}" if suffix else stem


def save_upload(home: Path, name: str, data: bytes) -> tuple[Path, str]:
    """Store an uploaded file as uploads/<sha256[:16]>_<safe name>; returns (path, safe name).

    Raises StorageError when the uploads folder cannot be written (read-only, disk full).
    """
    safe = safe_upload_name(name)
    folder = (Path(home) / paths.UPLOADS_DIR).resolve()
    target = (folder / f"{hashlib.sha256(data).hexdigest()[:16]}_{safe}").resolve()
    if target.parent != folder:  # cannot happen with a sanitised name; refuse rather than write
        raise StorageError(f"Refusing to write {target}: it is outside {folder}.")
    if not target.is_file():
        atomic_write_bytes(target, data)
    return target, safe
