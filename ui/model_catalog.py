"""The Strategy page's "Suggested models": a catalog table, a pick, an explicit Download.

Downloading is the only place the dashboard goes online, and only when the Download button is
clicked (see arena_core.training.hub); everything else reads the local Hugging Face cache.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import streamlit as st

from arena_core.errors import ModelLoadError
from arena_core.training import catalog, hub
from ui.common import table
from ui.dataset_state import remember

PICK = "st_catalog_pick"  # the selectbox: a catalog id or None
DONE = "st_catalog_done"  # a success message kept across the rerun after a download
NONE_LABEL = "(none: use the folder or hub id typed above)"


def catalog_table(rows: list[dict]) -> pd.DataFrame:
    """The rows as shown: one line per model, availability in words."""
    return pd.DataFrame(
        {
            "model": [r["id"] for r in rows],
            "languages": [", ".join(r["languages"]) for r in rows],
            "size": [r["size"] for r in rows],
            "max tokens": [r["max_tokens"] for r in rows],
            "availability": [r["status"] for r in rows],
            "note": [r["note"] for r in rows],
        }
    )


def catalog_picker(languages: Iterable[str] | None) -> str | None:
    """Show the suggested models for ``languages`` and return the picked id (None: no pick).

    A picked model that is not in the cache gets a Download button; the page's own model
    check then tells whether the pick can train offline.
    """
    rows = catalog.catalog_rows(list(languages) if languages is not None else None)
    by_id = {r["id"]: r for r in rows}
    with st.expander("Suggested models", expanded=True):
        if message := st.session_state.pop(DONE, None):
            st.success(message, icon=":material/download_done:")
        table(catalog_table(rows))
        if st.session_state.get(PICK) not in (None, *by_id):
            st.session_state[PICK] = None  # picked under another dataset's languages
        picked = st.selectbox(
            "Pick a suggested model",
            [None, *by_id],
            format_func=lambda i: NONE_LABEL if i is None else f"{i} ({by_id[i]['status']})",
            help="'download' ones must be fetched once while online; training stays offline.",
            **remember(PICK, None),
        )
        if picked is not None and not by_id[picked]["available_offline"]:
            _download_button(picked)
    return picked


def _download_button(hub_id: str) -> None:
    """The explicit download of one model, with a progress bar and a one-line error."""
    st.caption(
        f"{hub_id} is not on this machine yet. Download it once (needs the internet), or "
        f"run 'arena download-model {hub_id}' on a terminal."
    )
    if not st.button(f"Download {hub_id}", key="st_catalog_download", icon=":material/download:"):
        return
    bar = st.progress(0.0, text=f"{hub_id}: connecting to the Hugging Face hub")
    try:
        folder = hub.download(hub_id, lambda fraction, text: bar.progress(fraction, text=text))
    except ModelLoadError as exc:
        bar.empty()
        st.error(str(exc), icon=":material/cloud_off:")
        return
    st.session_state[DONE] = f"Downloaded {hub_id} ({folder}): it now trains offline."
    st.rerun()
