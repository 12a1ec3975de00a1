"""Streamlit helpers shared by the Sessions, Monitor and Compare pages."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from arena_core.errors import ArenaError
from arena_core.session.manifest import SessionStatus
from arena_core.store import paths
from arena_core.store.listing import ListingCache
from arena_core.store.metrics_log import MetricsTail, read_metrics
from arena_core.store.session_store import SessionStore, SessionSummary
from arena_core.store.status import ACTIVE, RESUMABLE
from arena_core.viz.wording import (
    approach_text,
    field_label,
    field_rows,
    readable_rows,
    value_text,
    when_text,
)
from ui.common import show_error, table

STATUS_ICONS = {
    "ready": ":material/radio_button_unchecked:",
    "queued": ":material/schedule:",
    "running": ":material/sync:",
    "completed": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/cancel:",
    "interrupted": ":material/pause_circle:",
    "imported": ":material/move_to_inbox:",
    "unreadable": ":material/broken_image:",
}
# Rows of the session browser's table: nobody scrolls 10,000 rows, and each one costs transfer
# and drawing on every render (bench/sessions_page.py); search and filters reach the others.
TABLE_ROWS = 1000
TAILS = "mon_tails"  # session_state: {session id: MetricsTail}, one incremental reader each
ACTIVE_VALUES = {s.value for s in ACTIVE}
RESUMABLE_VALUES = {s.value for s in RESUMABLE}


def status_text(status: str) -> str:
    return f"{STATUS_ICONS.get(status, '')} {status}".strip()


def session_label(summary: SessionSummary, status: str | None = None) -> str:
    """How a session reads in a picker: name, status (``status`` when fresher), date."""
    date = when_text(summary.created_at)
    return f"{summary.name or summary.id} · {status or summary.status} · {date}"


def session_name(store: SessionStore, session_id: str) -> str:
    """A session's name for a sentence (its id only when the manifest cannot be read)."""
    try:
        return store.load(session_id).name or session_id
    except ArenaError:
        return session_id


def readable(summaries: Sequence[SessionSummary]) -> list[SessionSummary]:
    return [s for s in summaries if s.error is None]


def page_link(page: str, label: str, icon: str | None = None) -> None:
    """st.page_link that degrades to a caption when the page runs outside app.py's navigation
    (``streamlit run app_pages/x.py``), where Streamlit cannot resolve other pages."""
    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitAPIException:
        st.caption(f"{label}: open it from the app's navigation.")


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def run_action(action: Callable[[], Any], success: str | None = None) -> Any | None:
    """Call a core action; ArenaError becomes a message (None returned), else rerun the app."""
    try:
        result = action()
    except ArenaError as exc:
        show_error(exc)
        return None
    if success:
        st.toast(success)
    return result


def selected_session_id(rows: list[int], ids_now: list[str], key: str) -> str | None:
    """The session the user picked, by id, not by row position.

    Rows shift when another tab or a worker adds a session; mapping a row number against the
    current list would then act on a different session (a stale tab's Relaunch relaunching the
    wrong one). A new selection is mapped against the ids the user was looking at (the previous
    render); an unchanged selection keeps its id.
    """
    seen_key, rows_key = f"{key}__seen_ids", f"{key}__rows"
    if rows != st.session_state.get(rows_key):
        seen = st.session_state.get(seen_key) or ids_now
        st.session_state[key] = seen[rows[0]] if rows and rows[0] < len(seen) else None
        st.session_state[rows_key] = list(rows)
    st.session_state[seen_key] = list(ids_now)
    return st.session_state.get(key)


def control_buttons(store: SessionStore, session_id: str, status: str, prefix: str) -> None:
    """Start (never started) or Resume (interrupted/failed/cancelled), and Cancel
    (queued/running), for one session."""
    from arena_core.run import control  # light: no torch; kept local so pages import fast

    never_started = status == SessionStatus.READY.value
    left, right = st.columns(2)
    resume = left.button(
        "Start" if never_started else "Resume",
        key=f"{prefix}_resume",
        icon=":material/play_arrow:",
        disabled=status not in RESUMABLE_VALUES and not never_started,
        help="This session was created but never started: train it now."
        if never_started
        else "Continue: completed models are kept, the interrupted one restarts from its "
        "checkpoint.",
        width="stretch",
    )
    cancel = right.button(
        "Cancel",
        key=f"{prefix}_cancel",
        icon=":material/stop:",
        disabled=status not in ACTIVE_VALUES,
        help="Stop the worker; finished models are kept and the session can be resumed.",
        width="stretch",
    )
    start = control.launch if never_started else control.resume
    action, done = (start, "Started") if resume else (control.cancel, "Cancelled")
    if resume or cancel:
        verb = "Starting" if never_started else "Resuming"
        with st.spinner(f"{verb if resume else 'Cancelling'} {session_name(store, session_id)}…"):
            ok = run_action(
                lambda: action(store, session_id) or True,
                f"{done} {session_name(store, session_id)}",
            )
        if ok:
            st.rerun()


def _table(rows: list[dict[str, Any]]) -> None:
    table(pd.DataFrame(readable_rows(rows)))


def render_value(value: Any) -> None:
    """A section value in words: rows -> table, mapping -> setting/value table, else text."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        _table(value)
    elif isinstance(value, list):
        if value:
            st.markdown("\n".join(f"- {value_text(v)}" for v in value))
        else:
            st.caption("none")
    elif isinstance(value, dict):
        flat = {k: v for k, v in value.items() if not isinstance(v, dict | list)}
        nested = {k: v for k, v in value.items() if isinstance(v, dict | list)}
        if flat:
            table(pd.DataFrame(field_rows(flat)))
        for name, item in nested.items():
            st.markdown(f"**{field_label(name)}**")
            if isinstance(item, list) and item and all(isinstance(v, dict) for v in item):
                _table(item)
            elif isinstance(item, dict) and item:  # keyed by data (keys, languages): as is
                rows = [{"name": str(k), "value": value_text(v)} for k, v in item.items()]
                table(pd.DataFrame(rows))
            elif item:
                st.markdown(value_text(item, name))
            else:
                st.caption("none")
    else:
        st.write(value_text(value))


def render_sections(sections: dict[str, Any], key: str) -> None:
    """Readable manifest sections, one tab each."""
    tabs = st.tabs(list(sections), key=key) if sections else []
    for tab, value in zip(tabs, sections.values(), strict=False):
        with tab:
            render_value(value)


def metrics_tail(store: SessionStore, session_id: str) -> MetricsTail:
    """This session's incremental metrics reader, kept across reruns (reads only new bytes)."""
    tails: dict[str, MetricsTail] = st.session_state.setdefault(TAILS, {})
    path = store.session_dir(session_id) / paths.METRICS
    tail = tails.get(session_id)
    if tail is None or Path(tail.path) != path:
        tail = tails[session_id] = MetricsTail(path)
    tail.poll()  # a replaced/truncated file (resume) makes it start again from byte 0
    return tail


@st.cache_data(max_entries=64, show_spinner=False)
def _records(path: str, size: int, mtime_ns: int) -> list[dict[str, Any]]:
    return read_metrics(Path(path))[0]


def all_records(store: SessionStore, session_id: str) -> list[dict[str, Any]]:
    """Every metrics record of a session, cached until the file changes."""
    path = store.session_dir(session_id) / paths.METRICS
    try:
        stat = os.stat(path)
    except OSError:
        return []
    return _records(str(path), stat.st_size, stat.st_mtime_ns)


def is_live(status: str) -> bool:
    return status in ACTIVE_VALUES


def finished(status: str) -> bool:
    return status in {SessionStatus.COMPLETED.value, *RESUMABLE_VALUES}


@st.cache_resource(show_spinner=False)
def _listing_cache(home: str) -> ListingCache:
    """Per store: one listing cache, shared by every browser tab (in memory, and on disk in
    the session index so that a new server process does not read every session folder)."""
    return ListingCache()


def list_sessions(store: SessionStore) -> list[SessionSummary]:
    """store.list(), re-reading only the sessions that changed since the last call (or, in a
    new process, since the session index was written)."""
    return _listing_cache(str(store.home)).rows(store.sessions_root, store.summary)


def summary_frame(
    summaries: Sequence[SessionSummary], names: dict[str, str] | None = None
) -> pd.DataFrame:
    """The session browser table, one row per summary (unreadable ones with their problem).

    ``names`` maps session ids to names, so a relaunch shows its parent by name.
    """
    names = names or {}
    rows = [
        {
            "name": s.name or "(unreadable)",
            "created": s.created_at or None,
            "status": s.status,
            "approach": approach_text(s.approach),
            "keys": ", ".join(s.keys),
            "models": f"{s.jobs_done} / {s.n_jobs}",
            "best macro-F1": s.best_macro_f1,
            "relaunch of": names.get(s.parent, s.parent) if s.parent else "",
            "origin": "previous tool" if s.origin == "legacy" else "this app",
            "strategy fields saved": s.complete,
            "model": s.model,
            "id": s.id,
            "problem": s.error or "; ".join(s.warnings),
        }
        for s in summaries
    ]
    frame = pd.DataFrame(rows, columns=list(rows[0]) if rows else None)
    if rows:  # one vectorised conversion: per-row parsing costs seconds on 10,000 sessions
        frame["created"] = pd.to_datetime(
            frame["created"], utc=True, errors="coerce", format="ISO8601"
        )
    return frame


def filter_summaries(
    summaries: Sequence[SessionSummary], statuses: Sequence[str], origin: str, text: str
) -> list[SessionSummary]:
    needle = text.strip().lower()

    def keep(s: SessionSummary) -> bool:
        if statuses and s.status not in statuses:
            return False
        if origin != "all" and s.origin != origin:
            return False
        haystack = " ".join([s.id, s.name, s.model, s.approach, s.parent or "", *s.keys])
        return not needle or needle in haystack.lower()

    return [s for s in summaries if keep(s)]


# ---------------------------------------------------------------- Sessions page panels

PROPOSAL, IMPORTED = "ses_proposal", "ses_import_report"


def repair_panel(store: SessionStore, session_id: str) -> None:
    """Preview what repair would infer (with its evidence), then write it on confirmation."""
    from arena_core.legacy import repair

    with st.container(border=True):
        st.markdown("**Repair** infers the missing fields from the session's own files.")
        if st.button("Show what would be inferred", key="ses_repair_preview"):
            proposal = run_action(lambda: repair.propose(store, session_id))
            if proposal is not None:
                st.session_state[PROPOSAL] = (session_id, proposal)
        saved = st.session_state.get(PROPOSAL)
        if not saved or saved[0] != session_id:
            return
        proposal = saved[1]
        if proposal.refused_reason:
            st.error(f"Repair refused: {proposal.refused_reason}")
            return
        st.markdown("Would write:")
        table(pd.DataFrame(field_rows(proposal.inferred)))
        with st.expander("Evidence"):
            st.json(proposal.evidence, expanded=False)
        if not proposal.complete:
            st.caption("Some problems would remain after this repair.")
        if st.button("Write the repair", key="ses_repair_apply", type="primary") and run_action(
            lambda: repair.apply(store, session_id) or True, f"Repaired {session_id}"
        ):
            st.session_state.pop(PROPOSAL, None)
            st.rerun()


def import_panel(store: SessionStore, expanded: bool = False) -> None:
    """Import the folders saved by the previous tool (their files are never changed)."""
    with st.expander("Import sessions from the previous tool", expanded=expanded):
        st.caption("A `logs/training_arena` folder, or one session folder inside it.")
        path = st.text_input(
            "Folder", key="ses_import_path", placeholder="/path/to/logs/training_arena"
        )
        again = st.checkbox("Import again sessions imported before", key="ses_import_again")
        if st.button("Import", key="ses_import", disabled=not path.strip()):
            from arena_core.legacy import importer as legacy

            folder = Path(path.strip()).expanduser()
            report = run_action(lambda: legacy.import_legacy(store, folder, again=again))
            if report is not None:
                st.session_state[IMPORTED] = report
                st.rerun()
        if (report := st.session_state.get(IMPORTED)) is not None:
            st.success(f"Imported {len(report.imported)} session(s): {', '.join(report.imported)}")
            for folder, why in [*report.skipped, *report.unreadable]:
                st.warning(f"{folder}: {why}")
            for session_id, notes in report.notes.items():
                st.caption(f"{session_id}: " + " ".join(notes))
