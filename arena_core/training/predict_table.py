"""The trained models of a session applied to texts -> one table: a row per text, a column per key.

Per key, whatever its strategy: a multi-class key gives its label and a score column, a
multi-label key its labels joined by "; ", and a one-vs-all key the labels whose binary model
says yes, joined the same way. Loading the models is left to the caller (the Predict page keeps
them in a cache across reruns), so this module needs neither torch nor streamlit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from arena_core.session.strategy import ModelJob, Strategy
from arena_core.store import paths
from arena_core.training.predict import BASELINE_JSON, CONFIG

# The predictions of one job's model for the texts, as ``Predictor.predict`` returns them.
PredictJob = Callable[[ModelJob, list[str]], list[dict[str, Any]]]


def job_model_dir(session_dir: Path, job: ModelJob) -> Path:
    """The model/ folder the training of ``job`` writes."""
    return paths.job_dir(session_dir, job.id) / paths.JOB_MODEL


def jobs_with_a_model(session_dir: Path, jobs: list[ModelJob]) -> list[ModelJob]:
    """The jobs whose model folder holds a trained model, in plan order."""
    return [
        job
        for job in jobs
        if any(
            (job_model_dir(session_dir, job) / name).is_file() for name in (CONFIG, BASELINE_JSON)
        )
    ]


def prediction_table(jobs: list[ModelJob], texts: list[str], predict: PredictJob) -> pd.DataFrame:
    """One column per key (plus a score column for multi-class keys), one row per text."""
    table = pd.DataFrame({"text": texts})
    positives: dict[str, list[list[str]]] = {}
    for job in jobs:
        results = predict(job, texts)
        if job.strategy is Strategy.MULTI_CLASS:
            table[job.key] = [r["label"] for r in results]
            table[f"{job.key} score"] = [round(float(r["score"]), 3) for r in results]
        elif job.strategy is Strategy.MULTI_LABEL:
            table[job.key] = ["; ".join(r["labels"]) for r in results]
        else:  # one-vs-all: the labels whose binary model says yes
            found = positives.setdefault(job.key, [[] for _ in texts])
            for hits, result in zip(found, results, strict=True):
                if result["label"] == job.label:
                    hits.append(job.label)
    for key, hits in positives.items():
        table[key] = ["; ".join(sorted(h)) for h in hits]
    return table
