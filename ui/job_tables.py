"""The per-model tables of the Monitor and Sessions pages, in the same words and formats.

Both show one row per model named as people name it ('themes: economy'), the same macro-F1
and the TF-IDF baseline beside it, so a number reads the same on every page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from arena_core.session.describe import baseline_gain
from arena_core.viz.wording import job_name

EXACT_MATCH_NOTE = (
    "Accuracy of a multi-label model is exact-match accuracy: a text counts as right only "
    "when all its values are predicted right, so it is often far below macro-F1."
)
SCORE_COLUMNS = {
    "progress": st.column_config.ProgressColumn(min_value=0, max_value=1),
    "macro-F1": st.column_config.NumberColumn(
        format="%.3f", help="best validation macro-F1 of the model (the score ranked everywhere)"
    ),
    "test macro-F1": st.column_config.NumberColumn(format="%.3f"),
    "TF-IDF baseline": st.column_config.NumberColumn(
        format="%.3f",
        help="validation macro-F1 of TF-IDF + logistic regression on the same rows and split",
    ),
    "accuracy": st.column_config.NumberColumn(
        format="%.3f", help="validation accuracy; exact-match for multi-label models"
    ),
    "validation loss": st.column_config.NumberColumn(format="%.4f"),
    "node": st.column_config.TextColumn(help="the Ray node (machine) that trained the model"),
    "computed in": st.column_config.TextColumn(
        help="the number format training and evaluation ran in (the Precision setting, as "
        "resolved on the machine that trained it) and the device"
    ),
}


def _without_empty(frame: pd.DataFrame, optional: Sequence[str]) -> pd.DataFrame:
    """Drop the optional columns no row has a value in (no column of dashes)."""
    empty = [c for c in optional if c in frame and frame[c].replace("", None).isna().all()]
    return frame.drop(columns=empty)


def results_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The Sessions page's models table, from ``describe.job_results`` rows."""
    frame = pd.DataFrame(
        [
            {
                "model": job_name(r["key"], r["label"], r["language"]),
                "strategy": r["strategy"],
                "status": r["status"],
                "macro-F1": r["macro_f1"],
                "test macro-F1": r["test_macro_f1"],
                "TF-IDF baseline": r["baseline_macro_f1"],
                "gain over baseline": baseline_gain(r["macro_f1"], r["baseline_macro_f1"]),
                "accuracy": r["accuracy"],
                "validation loss": r["val_loss"],
                "best epoch": r["best_epoch"],
                "node": r.get("node") or "",
                "computed in": r.get("ran_in") or "",
                "error": r["error"] or "",
            }
            for r in rows
        ]
    )
    optional = [
        "test macro-F1",
        "TF-IDF baseline",
        "gain over baseline",
        "best epoch",
        "node",
        "computed in",
        "error",
    ]
    return _without_empty(frame, optional)


def live_frame(jobs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The Monitor's models table, from ``control.session_status`` jobs."""
    frame = pd.DataFrame(
        [
            {
                "model": job_name(j["key"], j["label"], j["language"]),
                "strategy": j["strategy"],
                "status": j["status"],
                "progress": j["step"] / j["total_steps"] if j.get("total_steps") else None,
                "macro-F1": (j.get("metrics") or {}).get("macro_f1"),
                "TF-IDF baseline": j.get("baseline_macro_f1"),
                "gain over baseline": baseline_gain(
                    (j.get("metrics") or {}).get("macro_f1"), j.get("baseline_macro_f1")
                ),
                "accuracy": (j.get("metrics") or {}).get("accuracy"),
                "node": j.get("node") or "",
                "error": j.get("error") or "",
            }
            for j in jobs
        ]
    )
    return _without_empty(frame, ["TF-IDF baseline", "gain over baseline", "node", "error"])


def any_multi_label(rows: Sequence[Mapping[str, Any]]) -> bool:
    return any(r.get("strategy") == "multi-label" for r in rows)
