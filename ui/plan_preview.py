"""What a session will train, shown before launch: the Strategy page and the relaunch form.

Both pages show the same preview (models to train, their length, notes), so a relaunch with
other settings reads exactly like a new session.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from arena_core.session.manifest import SessionManifest
from arena_core.session.strategy import ModelJob
from arena_core.training.budget import budget_summary
from ui.common import table

MODELS = {
    "minilm": "all-MiniLM-L6-v2 (packaged, default)",
    "tiny": "tiny (quick demo/tests)",
    "tfidf": "TF-IDF baseline (seconds)",
    "embed:minilm": "MiniLM embeddings baseline",
    "custom": "local folder or hub id",
}
MODEL_HELP = (
    "MiniLM is fine-tuned for real (minutes). The two baselines train in seconds: TF-IDF words "
    "and character n-grams, or frozen MiniLM sentence embeddings, each with a logistic "
    "regression. Every fine-tune also reports the TF-IDF baseline's score beside its own."
)
STRATEGY_HELP = (
    "**multi-class**: one model picks exactly one value per text (e.g. sentiment). "
    "**one-vs-all**: one yes/no model per value; a text can get several values, and each "
    "value's model can be judged and relaunched on its own (best with few values). "
    "**multi-label**: one model with a yes/no output per value (best with many values). "
    "**auto** takes multi-class for one value per text; for several values per text, "
    "one-vs-all up to a few values, else multi-label."
)
STRATEGY_TEXT = {
    "auto": "auto",
    "multi-class": "multi-class (one value per text)",
    "one-vs-all": "one-vs-all (one yes/no model per value)",
    "multi-label": "multi-label (one model, several values per text)",
}


def budget_text(summary: dict) -> str:
    """What the training settings will do, in words, before launch."""
    if not summary:
        return "Baselines train each model in one go, in seconds."
    epochs = (
        f"{summary['epochs_min']} epochs"
        if summary["epochs_min"] == summary["epochs_max"]
        else f"{summary['epochs_min']}-{summary['epochs_max']} epochs"
    )
    minutes = max(1, round(summary["seconds"] / 60))
    how = "sized automatically" if summary["auto"] else "as set"
    stop = ", fewer if validation stops improving" if summary["early_stopping"] else ""
    return (
        f"≈ {summary['steps']:,} optimizer steps, ≈ {epochs} ({how}), at most ≈ {minutes} min "
        f"on this machine{stop}."
    )


def plan_frame(jobs: list[ModelJob], per_language: bool) -> pd.DataFrame:
    """One row per model: key, strategy, the value a one-vs-all model says yes/no to, and the
    language only when the session trains one model set per language."""
    rows = []
    for job in jobs:
        row = {
            "key": job.key,
            "strategy": job.strategy.value,
            "value (one-vs-all)": job.label or "all values",
            "outputs": len(job.labels),
        }
        if per_language:
            row["language"] = job.language or "all"
        rows.append(row)
    return pd.DataFrame(rows)


def show_plan(manifest: SessionManifest, notes: list[str], key: str) -> None:
    """The models a session will train, how long, and the planner's notes."""
    jobs = list(manifest.plan)
    st.subheader(f"This session will train {len(jobs)} models")
    st.caption(budget_text(budget_summary(manifest.training, manifest.budget)))
    frame = plan_frame(jobs, manifest.language.per_language)
    table(frame, key=key)
    for note in notes:
        st.warning(note)
