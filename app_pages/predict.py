"""Predict: apply every trained model of a completed session to new texts, download the table."""

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
from arena_core.training.predict_table import job_model_dir, jobs_with_a_model, prediction_table
from ui import dataset_state as ds_state
from ui.common import SESSIONS, get_store, show_error

RESULT = "pr_result"  # {"session": id, "frame": DataFrame}: survives the download reruns


@st.cache_resource(show_spinner=False)
def _predictors() -> PredictorCache:
    """Loaded models shared by every tab, bounded in memory; a rewritten folder is reloaded."""
    return PredictorCache()


def _predictor(session_dir: Path, job: ModelJob) -> Predictor:
    return _predictors().get(
        job_model_dir(session_dir, job),
        while_loading=lambda: st.spinner(f"Loading the model of {job.id} (first use)..."),
    )


def _predict(session_dir: Path, jobs: list[ModelJob], texts: list[str]) -> pd.DataFrame:
    """The prediction table, with the models from the page's cache."""
    return prediction_table(
        jobs, texts, lambda job, batch: _predictor(session_dir, job).predict(batch)
    )


st.title("Predict")
store = get_store()
try:
    completed = [s for s in store.list() if s.status is SessionStatus.COMPLETED]
except ArenaError as exc:
    show_error(exc)
    st.stop()
if not completed:
    st.info("No completed session yet: train one, then come back to label new texts.")
    if st.button("Go to Sessions", key="pr_to_sessions"):
        st.switch_page(SESSIONS)
    st.stop()

names = {s.id: f"{s.name} ({s.id})" for s in completed}
session_id = st.selectbox("Session", list(names), format_func=names.get, key="pr_session")
try:
    manifest = store.load(session_id)
    session_dir = store.existing_dir(session_id)
except ArenaError as exc:
    show_error(exc)
    st.stop()
jobs = jobs_with_a_model(session_dir, manifest.plan)
if manifest.language.per_language and manifest.language.languages:
    language = st.selectbox(
        "Language of the texts (this session has one model set per language)",
        manifest.language.languages,
        key="pr_language",
    )
    jobs = [j for j in jobs if j.language == language]
if not jobs:
    st.warning(f"Session {session_id} has no trained model to apply.")
    st.stop()
st.caption(f"{len(jobs)} models for keys: {', '.join(sorted({j.key for j in jobs}))}.")

mode = st.radio(
    "Texts",
    ["paste", "file"],
    format_func={"paste": "Paste text", "file": "Upload a file"}.get,
    key="pr_mode",
    horizontal=True,
)
texts: list[str] = []
if mode == "paste":
    pasted = st.text_area("One text per line", key="pr_text", height=160)
    texts = [line.strip() for line in pasted.splitlines() if line.strip()]
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

if st.button(
    "Predict", key="pr_predict", type="primary", disabled=not texts, icon=":material/bolt:"
):
    with st.spinner(f"Applying {len(jobs)} models to {len(texts)} texts..."):
        try:
            st.session_state[RESULT] = {
                "session": session_id,
                "frame": _predict(session_dir, jobs, texts),
            }
        except ArenaError as exc:
            show_error(exc)
            st.stop()

result = st.session_state.get(RESULT)
if result and result["session"] == session_id:
    frame = result["frame"]
    st.dataframe(frame, hide_index=True)
    left, right = st.columns(2)
    left.download_button(
        "Download CSV",
        frame.to_csv(index=False).encode("utf-8"),
        f"predictions_{session_id}.csv",
        "text/csv",
        key="pr_download_csv",
    )
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    right.download_button(
        "Download Parquet",
        buffer.getvalue(),
        f"predictions_{session_id}.parquet",
        "application/octet-stream",
        key="pr_download_parquet",
    )
