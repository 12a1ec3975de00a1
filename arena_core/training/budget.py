"""How long a model trains when the user does not say: a budget in optimizer steps, not epochs.

Why steps: our users' datasets are small (a few hundred to a few thousand rows). Three epochs of
288 rows at batch 16 are 54 optimizer steps, far too few for a transformer to learn; a fixed
epoch count is right for one size only. The auto budget gives every job enough epochs to reach
``min_steps`` optimizer steps, at least ``min_epochs`` and at most ``max_epochs`` passes, and
early stopping on validation macro-F1 (best weights kept) ends it sooner when it stops paying.
The learning-rate schedule is sized to the same number of steps.

A pure function of the training settings and the job's number of training rows, both fixed by
the manifest and its snapshot, so a relaunch repeats it exactly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from arena_core.errors import ArenaError
from arena_core.session.manifest import JobBudget, TrainingConfig
from arena_core.session.strategy import ModelJob
from arena_core.training.baselines import is_baseline
from arena_core.training.examples import ParsedRows, job_examples

# Measured throughput of training on this class of machine (2-core CPU, BENCHMARKS.md), used to
# estimate minutes before launch when no finished session of the same model says better.
SAMPLES_PER_SECOND = {"tiny": 300.0, "minilm": 45.0}
DEFAULT_SAMPLES_PER_SECOND = 30.0  # an unknown transformer: assume a MiniLM-or-larger pace


@dataclass(frozen=True)
class Budget:
    """The resolved training length of one job."""

    epochs: int
    steps_per_epoch: int
    total_steps: int
    auto: bool  # sized by the step budget (True) or an explicit epoch count (False)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    return max(1, math.ceil(n_train / batch_size))


def job_budget(config: TrainingConfig, n_train: int) -> Budget:
    """Epochs and steps of a job training on ``n_train`` rows; an explicit ``epochs`` wins."""
    per_epoch = steps_per_epoch(n_train, config.batch_size)
    if config.epochs is not None:
        return Budget(config.epochs, per_epoch, per_epoch * config.epochs, auto=False)
    wanted = math.ceil(config.min_steps / per_epoch)
    epochs = min(max(wanted, config.min_epochs), config.max_epochs)
    return Budget(epochs, per_epoch, per_epoch * epochs, auto=True)


def samples_per_second(model: str) -> float:
    return SAMPLES_PER_SECOND.get(model.strip().lower(), DEFAULT_SAMPLES_PER_SECOND)


def session_budget(
    config: TrainingConfig, jobs: list[ModelJob], table: pd.DataFrame, split: pd.Series
) -> dict[str, JobBudget]:
    """Each job's length, recorded in the manifest when the session is created (empty for
    baselines, which train in one go)."""
    if is_baseline(config.model):
        return {}
    budgets = {}
    parsed = ParsedRows(table, split)
    for job in jobs:
        try:
            n_train = job_examples(table, split, job, parsed).count("train")
        except ArenaError:  # cannot train: the worker reports it on that job, with the reason
            continue
        budgets[job.id] = JobBudget(n_train=n_train, **job_budget(config, n_train).as_dict())
    return budgets


def rebudget(config: TrainingConfig, previous: dict[str, JobBudget]) -> dict[str, JobBudget]:
    """A relaunch's lengths: same rows per job as its parent, its own (overridden) settings."""
    if is_baseline(config.model):
        return {}
    return {
        job_id: JobBudget(n_train=b.n_train, **job_budget(config, b.n_train).as_dict())
        for job_id, b in previous.items()
    }


def budget_summary(config: TrainingConfig, budgets: dict[str, JobBudget]) -> dict[str, Any]:
    """Totals to show before launch: steps, the range of epochs, and an upper time estimate."""
    if not budgets:
        return {}
    epochs = sorted({b.epochs for b in budgets.values()})
    steps = sum(b.total_steps for b in budgets.values())
    pace = samples_per_second(config.model)
    return {
        "steps": steps,
        "epochs_min": epochs[0],
        "epochs_max": epochs[-1],
        "seconds": steps * config.batch_size / pace,
        "samples_per_second": pace,
        "auto": any(b.auto for b in budgets.values()),
        "early_stopping": config.early_stopping_patience > 0,
    }
