"""What every job of a session run shares, loaded once per process: the dataset snapshot, its
split (checked against the manifest's hash) and, for a transformer, the tokenizer and the texts
tokenized once. The local worker loads them once for all its jobs; a Ray job loads them on its
node (``run/ray_task.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arena_core.errors import TrainingError
from arena_core.session.manifest import SessionManifest, TrainingConfig
from arena_core.session.strategy import ModelJob
from arena_core.store.records import JobReport

log = logging.getLogger(__name__)


@dataclass
class Inputs:
    """The table, its split and ``shared`` (for a transformer: the tokenizer and the texts
    tokenized once, ``job_runner.shared_inputs``)."""

    table: Any
    split: Any
    shared: dict[str, Any]

    def train(
        self,
        job: ModelJob,
        config: TrainingConfig,
        out_dir: Path,
        metrics_file: Path,
        **options: Any,
    ) -> JobReport:
        """``job_runner.run_job`` on these inputs (``options``: resume, on_progress,
        should_stop)."""
        from arena_core.store.metrics_log import MetricsWriter
        from arena_core.training.job_runner import run_job

        return run_job(
            job,
            config,
            self.table,
            self.split,
            out_dir,
            MetricsWriter(metrics_file),
            shared=self.shared,
            **options,
        )


def load_inputs(folder: Path, manifest: SessionManifest) -> Inputs:
    """The session's table, split and shared encodings; a TrainingError saying what to do when
    the snapshot or the split cannot be trusted."""
    import pandas as pd

    from arena_core.data.splits import read_split

    session_id = manifest.id
    snapshot = folder / manifest.dataset.snapshot_file
    try:
        table = pd.read_parquet(snapshot)
    except (OSError, ValueError) as exc:
        raise TrainingError(
            f"Session {session_id}: the dataset snapshot {snapshot} cannot be read "
            f"({exc}). Run 'python -m arena_core check {session_id}'."
        ) from exc
    split, digest = read_split(folder / manifest.split.file)
    if manifest.split.sha256 is None:
        log.warning("session %s has no split hash to verify", session_id)
    elif digest != manifest.split.sha256:
        raise TrainingError(
            f"Session {session_id}: the split file {manifest.split.file} does not match "
            "the split recorded in the manifest (hash differs), so results would not be "
            "comparable. Relaunch from an intact session instead."
        )
    missing = set(table["row"]) - set(split["row"])
    if missing:
        raise TrainingError(
            f"Session {session_id}: {len(missing)} dataset rows have no split entry "
            f"(e.g. row {min(missing)}). Relaunch from an intact session instead."
        )
    # torch (for a transformer): only once the inputs are sound
    from arena_core.training.job_runner import import_training_code, shared_inputs

    seconds = import_training_code(manifest.training)
    log.info("training libraries loaded in %.1f s", seconds)
    return Inputs(table, split, shared_inputs(manifest.training, table))
