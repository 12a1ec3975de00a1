"""Predict: apply every trained model of a completed session to new texts, download the table.

One click on Predict predicts what was just typed. A text area commits its text on blur: the
click on the button blurs it, so the rerun of the click already has the text, provided the
button is enabled. It used to be disabled until the text was committed, so the
first click only committed the text. Per text: the predicted label(s) of each key, then the
probability of every label and the threshold (or argmax rule) that decided, also exported.
"""

import io
from pathlib import Path

import pandas as pd
import streamlit as st

from arena_core.data.uploads import save_upload
from arena_core.errors import ArenaError
from arena_core.session.manifest import SessionStatus
from arena_core.session.strategy import ModelJob
from arena_core.training.predict import (  # torch/transformers load on first use
    Predictor,
    PredictorCache,
)
from arena_core.training.predict_table import (
    NO_LABEL,
    TEXT,
    Predictions,
    job_model_dir,
    jobs_with_a_model,
    predict_session,
)
from arena_core.viz.compare import session_titles
from ui import dataset_state as ds_state
from ui import session_views as sv
from ui.common import SESSIONS, get_store, show_error, table

RESULT = "pr_result"  # {"session", "language", "predictions"}: survives the download reruns
TEXT_AREA, PREDICT = "pr_text", "pr_predict"


@st.cache_resource(show_spinner=False)
def _predictors() -> PredictorCache:
    """Loaded models shared by every tab, bounded in memory; a rewritten folder is reloaded."""
    return PredictorCache()


def _predictor(session_dir: Path, job: ModelJob) -> Predictor:
    return _predictors().get(
        job_model_dir(session_dir, job),
        while_loading=lambda: st.spinner(f"Loading the model of {job.id} (first use)..."),
    )


def _predict(
    session_dir: Path, jobs: list[ModelJob], texts: list[str], max_length: int
) -> Predictions:
    """The predictions, with the models from the page's cache; texts cut at the training
    length, as during training and validation."""
    return predict_session(
        jobs, texts, lambda job: _predictor(session_dir, job), max_length=max_length
    )


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def show(predictions: Predictions, session_id: str) -> None:
    """Predictions first; probabilities and thresholds below; both downloads export all."""
    st.markdown("#### Predictions")
    table(predictions.labels, key="pr_table")
    st.caption(
        "Multi-class keys: the most probable label. Multi-label and one-vs-all keys: every "
        f"label whose probability reaches its threshold, joined by '; ', or {NO_LABEL} when "
        "none does. Probabilities and thresholds are below and in both downloads."
    )
    with st.expander("Probabilities and decision thresholds", icon=":material/percent:"):
        table(
            predictions.probabilities,
            key="pr_probabilities",
            column_config={
                c: st.column_config.NumberColumn(format="%.3f")
                for c in predictions.probabilities.columns
                if c != TEXT
            },
        )
        table(predictions.decisions, key="pr_decisions")
    export = predictions.export()
    left, right = st.columns(2)
    left.download_button(
        "Download CSV",
        export.to_csv(index=False).encode("utf-8"),
        f"predictions_{session_id}.csv",
        "text/csv",
        key="pr_download_csv",
    )
    buffer = io.BytesIO()
    export.to_parquet(buffer, index=False)
    right.download_button(
        "Download Parquet",
        buffer.getvalue(),
        f"predictions_{session_id}.parquet",
        "application/octet-stream",
        key="pr_download_parquet",
    )


st.title("Predict")
store = get_store()
try:
    completed = [s for s in sv.list_sessions(store) if s.status == SessionStatus.COMPLETED.value]
except ArenaError as exc:
    show_error(exc)
    st.stop()
if not completed:
    st.info("No completed session yet: train one, then come back to label new texts.")
    if st.button("Go to Sessions", key="pr_to_sessions"):
        st.switch_page(SESSIONS)
    st.stop()

names = session_titles(completed)  # name · creation time, as on the Compare page
session_id = st.selectbox("Session", list(names), format_func=names.get, key="pr_session")
try:
    manifest = store.load(session_id)
    session_dir = store.existing_dir(session_id)
except ArenaError as exc:
    show_error(exc)
    st.stop()
jobs = jobs_with_a_model(session_dir, manifest.plan)
language = None
if manifest.language.per_language and manifest.language.languages:
    language = st.selectbox(
        "Language of the texts (this session has one model set per language)",
        manifest.language.languages,
        key="pr_language",
    )
    jobs = [j for j in jobs if j.language == language]
if not jobs:
    st.warning(f"Session {names[session_id]} has no trained model to apply.")
    st.stop()
st.caption(f"{len(jobs)} models for keys: {', '.join(dict.fromkeys(j.key for j in jobs))}.")

mode = st.radio(
    "Texts",
    ["paste", "file"],
    format_func={"paste": "Paste text", "file": "Upload a file"}.get,
    key="pr_mode",
    horizontal=True,
)
texts: list[str] = []
clicked = False
if mode == "paste":
    # Never disabled: a click while the text area still has focus commits the text (blur)
    # and clicks in the same rerun; a disabled button would swallow that first click.
    st.text_area("One text per line", key=TEXT_AREA, height=160)
    clicked = st.button("Predict", key=PREDICT, type="primary", icon=":material/bolt:")
    texts = _lines(st.session_state.get(TEXT_AREA))
    if clicked and not texts:
        st.warning("Type or paste at least one text, one per line.", icon=":material/edit:")
else:
    upload = st.file_uploader("File with texts", type=ds_state.UPLOAD_TYPES, key="pr_file")
    if upload is not None:
        try:
            path, safe_name = save_upload(store.home, upload.name, upload.getvalue())
            raw = ds_state.read(str(path), safe_name)
        except ArenaError as exc:
            show_error(exc)
            st.stop()
        frame, columns = raw.frame, list(raw.frame.columns)
        guess = ds_state.default_options(raw).text_col
        column = st.selectbox(
            "Text column",
            columns,
            index=columns.index(guess) if guess in columns else 0,
            key="pr_text_col",
        )
        texts = ["" if pd.isna(v) else str(v) for v in frame[column].tolist()]
    clicked = st.button(
        "Predict", key=PREDICT, type="primary", disabled=not texts, icon=":material/bolt:"
    )

if clicked and texts:
    with st.spinner(f"Applying {len(jobs)} models to {len(texts)} texts..."):
        try:
            st.session_state[RESULT] = {
                "session": session_id,
                "language": language,
                "predictions": _predict(session_dir, jobs, texts, manifest.training.max_length),
            }
        except ArenaError as exc:
            show_error(exc)
            st.stop()

result = st.session_state.get(RESULT)
if result and (result["session"], result["language"]) == (session_id, language):
    show(result["predictions"], session_id)
