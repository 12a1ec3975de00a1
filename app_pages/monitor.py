"""Monitor: one session live — status, progress, loss and F1 curves; cancel or resume it."""

from datetime import UTC, datetime

import streamlit as st

from arena_core.errors import ArenaError
from arena_core.run import control
from arena_core.session.describe import baseline_verdict
from arena_core.store.records import JobStatus
from arena_core.viz.charts import SeriesIndex, f1_figure, loss_figure
from arena_core.viz.wording import job_name
from ui import session_views as sv
from ui.common import (
    COMPARE,
    COMPARE_SESSIONS,
    MONITOR_SESSION,
    PREDICT,
    SESSIONS,
    get_store,
    show_error,
    table,
)
from ui.job_tables import EXACT_MATCH_NOTE, SCORE_COLUMNS, any_multi_label, live_frame

# While the session is queued or running; off once it ends. Not faster while waiting for the
# first point: on 2 cores a 0.5 s poll tripled the server's and the browser's CPU and slowed
# the worker's start more than it saved (bench/relaunch_chart.py, BENCHMARKS.md).
REFRESH_SECONDS = 1.5
PICK = "mon_pick"
INDEXES = "mon_series"  # session id -> SeriesIndex of its tail's records

st.title("Monitor")
store = get_store()


summaries = sorted(  # running/queued first, then newest first
    sv.readable(sv.list_sessions(store)), key=lambda s: not sv.is_live(s.status)
)
wanted = st.session_state.get(MONITOR_SESSION) or st.query_params.get("session")
if wanted and wanted not in {s.id for s in summaries}:
    st.warning(f"No readable session '{wanted}': pick another one below.")
    st.session_state.pop(MONITOR_SESSION, None)
    wanted = None
if not summaries:
    st.info("No session to follow yet: launch a training from the Strategy page.")
    sv.page_link(SESSIONS, "See all sessions", icon=":material/folder_open:")
    st.stop()

labels = {s.id: sv.session_label(s) for s in summaries}
if wanted:
    st.session_state[PICK] = wanted
elif st.session_state.get(PICK) not in labels:
    st.session_state[PICK] = summaries[0].id
try:  # the worker's word, not the listing's (which may lag by a refresh): picker = heading
    info = control.session_status(store, st.session_state[PICK])
except ArenaError as exc:
    show_error(exc)
    st.stop()
shown = next(s for s in summaries if s.id == st.session_state[PICK])
labels[shown.id] = sv.session_label(shown, info["status"])


def picked() -> None:
    st.session_state[MONITOR_SESSION] = st.session_state[PICK]


sid = st.selectbox("Session", list(labels), format_func=labels.get, key=PICK, on_change=picked)
st.session_state[MONITOR_SESSION] = sid
st.query_params["session"] = sid
live = sv.is_live(info["status"])
parent = next(s.parent for s in summaries if s.id == sid)
links = st.columns(3)
with links[0]:
    sv.page_link(SESSIONS, "All sessions", icon=":material/folder_open:")
with links[1]:
    sv.page_link(COMPARE, "Compare sessions", icon=":material/compare:")
if parent and links[2].button("Compare with its parent", key="mon_compare_parent"):
    st.session_state[COMPARE_SESSIONS] = [parent, sid]
    st.switch_page(COMPARE)


def progress_bars(info: dict) -> None:
    rows = info["jobs"]
    done = sum(job["status"] == JobStatus.COMPLETED for job in rows)
    overall = info["progress"].get("overall") or {}
    total = overall.get("total_steps")
    fraction = (
        (overall.get("steps_done") or 0) / total if total else (done / len(rows) if rows else 0)
    )
    eta = f" · ETA {sv.fmt_seconds(overall.get('eta_seconds'))}" if live else ""
    st.progress(min(fraction, 1.0), text=f"Overall: {done} / {len(rows)} models{eta}")
    current = next((j for j in rows if j["id"] == info["progress"].get("current_job")), None)
    if current and current.get("total_steps"):
        st.progress(
            min(current["step"] / current["total_steps"], 1.0),
            text=f"{job_name(current['key'], current['label'], current['language'])}: "
            f"step {current['step']} / {current['total_steps']}"
            f" · ETA {sv.fmt_seconds(current.get('eta_seconds'))}",
        )


def job_table(info: dict) -> None:
    verdict = baseline_verdict(
        [
            ((j.get("metrics") or {}).get("macro_f1"), j.get("baseline_macro_f1"))
            for j in info["jobs"]
        ]
    )
    if verdict:
        st.warning(verdict, icon=":material/compare_arrows:")
    table(live_frame(info["jobs"]), key="mon_jobs", column_config=SCORE_COLUMNS)
    if any_multi_label(info["jobs"]):
        st.caption(EXACT_MATCH_NOTE)


def elapsed_text(progress: dict, live: bool) -> str:
    """'Running for 3 min 12 s' while it trains, 'Took 5 min 02 s' once it ended."""
    start = _moment(progress.get("running_since") or progress.get("started_at"))
    if start is None:
        return ""
    end = None if live else _moment(progress.get("ended_at"))
    if not live and end is None:
        return ""
    seconds = ((end or datetime.now(UTC)) - start).total_seconds()
    return f"{'Running for' if live else 'Took'} {sv.fmt_seconds(max(0.0, seconds))}"


def _moment(text: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def queue_note(queue: dict | None) -> None:
    """Where a waiting session stands: its place and what holds the worker slots."""
    if not queue:
        return
    running = ", ".join(sv.session_name(store, i) for i in queue.get("running") or [])
    st.info(
        f"Waiting for a free worker slot: place {queue['place']} of {queue['waiting']} in the "
        f"queue. It starts by itself when a running session ends"
        + (f" (running now: {running})." if running else "."),
        icon=":material/hourglass_top:",
    )


def next_steps(status: str) -> None:
    """Where to go once the session ended: apply its models, or compare it."""
    if status != JobStatus.COMPLETED.value:
        return
    st.success("Training finished. Next:", icon=":material/check_circle:")
    left, middle, right = st.columns(3)
    with left:
        sv.page_link(PREDICT, "Apply its models to new texts", icon=":material/bolt:")
    with middle:
        sv.page_link(COMPARE, "Compare it with other sessions", icon=":material/compare:")
    with right:
        sv.page_link(SESSIONS, "Relaunch it with other settings", icon=":material/replay:")


@st.fragment(run_every=REFRESH_SECONDS if live else None)
def live_view() -> None:
    """Re-run alone every REFRESH_SECONDS while the session trains; reads only new metrics."""
    try:
        now = control.session_status(store, sid)
    except ArenaError as exc:
        show_error(exc)
        return
    if now["status"] != info["status"]:
        st.rerun()  # queued -> running -> ended: the picker and the refresh follow
    elapsed = elapsed_text(now["progress"], live)
    st.markdown(f"#### {sv.status_text(now['status'])}" + (f" · {elapsed}" if elapsed else ""))
    if now.get("reason"):
        st.caption(now["reason"])
    queue_note(now.get("queue"))
    next_steps(now["status"])
    sv.control_buttons(store, sid, now["status"], "mon")
    progress_bars(now)
    job_table(now)
    tail = sv.metrics_tail(store, sid)
    if not tail.records:
        st.info("No metrics yet: the curves appear after the first logging steps.")
        return
    index = st.session_state.setdefault(INDEXES, {}).setdefault(sid, SeriesIndex())
    left, right = st.columns(2)  # the index reads only the records added since the last tick
    names = {j["id"]: job_name(j["key"], j["label"], j["language"]) for j in now["jobs"]}
    left.plotly_chart(loss_figure(tail.records, index, names), key="mon_loss")
    right.plotly_chart(f1_figure(tail.records, index, names), key="mon_f1")


live_view()
