"""The job folder's saved states: resumable checkpoints and the best model so far.

``checkpoint/checkpoint-<step>/`` holds the latest resumable Trainer state only; ``model/`` the
best weights so far, replaced as a whole so a reader never sees a mix of two saves. A full or
read-only disk while saving becomes a StorageError that says what to do.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from arena_core.store import paths
from arena_core.store.atomic import atomic_write_json, read_json, storage_error

BEST_INFO = "arena_eval.json"  # in model/: validation result of the weights saved there
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_COMPLETE_MARKER = "trainer_state.json"  # Trainer writes it after weights, optimizer and RNG
# OSErrors that mean "the disk cannot take this write": shown as a StorageError saying what to do.
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _checkpoints(root: Path) -> list[tuple[int, Path]]:
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _CHECKPOINT.match(p.name))]
    return sorted(found)


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoint; incomplete ones (a crash while saving) are removed."""
    latest = None
    for _, path in _checkpoints(root):
        if (path / _COMPLETE_MARKER).is_file():
            latest = path
    for _, path in _checkpoints(root):
        if path != latest:
            shutil.rmtree(path, ignore_errors=True)
    return latest


def checkpoint_step(path: Path) -> int:
    return int(_CHECKPOINT.match(path.name).group(1))


def restore_model_dir(model_dir: Path) -> None:
    """Finish a swap interrupted between its two renames (see ``save_best_model``)."""
    old = model_dir.with_name(f".{model_dir.name}.old")
    if not model_dir.exists() and old.is_dir():
        os.replace(old, model_dir)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(model_dir.with_name(f".{model_dir.name}.tmp"), ignore_errors=True)


def save_best_model(model, tokenizer, model_dir: Path, info: dict[str, Any]) -> None:
    """Replace model/ as a whole: readers see the previous best or the new one, never a mix."""
    tmp = model_dir.with_name(f".{model_dir.name}.tmp")
    old = model_dir.with_name(f".{model_dir.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    if info.get("thresholds"):
        model.config.thresholds = info["thresholds"]
    model.save_pretrained(tmp)  # safetensors, id2label/label2id in config.json
    tokenizer.save_pretrained(tmp)
    atomic_write_json(tmp / BEST_INFO, info)
    shutil.rmtree(old, ignore_errors=True)
    if model_dir.exists():
        os.replace(model_dir, old)
    os.replace(tmp, model_dir)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def disk_errors(out_dir: Path) -> Iterator[None]:
    """A full or read-only disk while saving a checkpoint or the best model: drop the half-written
    folders (frees space; the last complete checkpoint stays for a resume), then raise a
    StorageError that names the file and says what to do."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in DISK_ERRNOS:
            raise
        latest_checkpoint(out_dir / paths.JOB_CHECKPOINT)
        restore_model_dir(out_dir / paths.JOB_MODEL)
        raise storage_error(Path(exc.filename or out_dir), exc) from exc


def read_best(model_dir: Path) -> dict[str, Any] | None:
    try:
        return read_json(model_dir / BEST_INFO)
    except (OSError, ValueError):
        return None
