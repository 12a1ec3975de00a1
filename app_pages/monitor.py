"""Monitor: one session live — status, progress, loss and F1 curves; cancel or resume it."""

import streamlit as st

from arena_core.errors import ArenaError
from arena_core.run import control
from arena_core.session.describe import baseline_gain, baseline_verdict
from arena_core.store.records import JobStatus
from arena_core.viz.charts import SeriesIndex, f1_figure, loss_figure
from ui import session_views as sv
from ui.common import COMPARE, COMPARE_SESSIONS, MONITOR_SESSION, SESSIONS, get_store, show_error

REFRESH_SECONDS = 1.5  # while the session is queued or running; off once it ends
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


def picked() -> None:
    st.session_state[MONITOR_SESSION] = st.session_state[PICK]


sid = st.selectbox("Session", list(labels), format_func=labels.get, key=PICK, on_change=picked)
st.session_state[MONITOR_SESSION] = sid
st.query_params["session"] = sid

try:
    info = control.session_status(store, sid)
except ArenaError as exc:
    show_error(exc)
    st.stop()
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
            text=f"{current['id']}: step {current['step']} / {current['total_steps']}"
            f" · ETA {sv.fmt_seconds(current.get('eta_seconds'))}",
        )


def job_table(info: dict) -> None:
    table = [
        {
            "model": job["id"],
            "status": job["status"],
            "progress": job["step"] / job["total_steps"] if job.get("total_steps") else None,
            "macro-F1": (job.get("metrics") or {}).get("macro_f1"),
            "TF-IDF baseline": job.get("baseline_macro_f1"),
            "gain over baseline": baseline_gain(
                (job.get("metrics") or {}).get("macro_f1"), job.get("baseline_macro_f1")
            ),
            "accuracy": (job.get("metrics") or {}).get("accuracy"),
            "error": job.get("error") or "",
        }
        for job in info["jobs"]
    ]
    verdict = baseline_verdict(
        [
            ((j.get("metrics") or {}).get("macro_f1"), j.get("baseline_macro_f1"))
            for j in info["jobs"]
        ]
    )
    if verdict:
        st.warning(verdict, icon=":material/compare_arrows:")
    st.dataframe(
        table,
        hide_index=True,
        key="mon_jobs",
        column_config={
            "progress": st.column_config.ProgressColumn(min_value=0, max_value=1),
            "macro-F1": st.column_config.NumberColumn(format="%.3f"),
            "TF-IDF baseline": st.column_config.NumberColumn(
                format="%.3f", help="validation macro-F1 of TF-IDF + logistic regression"
            ),
            "accuracy": st.column_config.NumberColumn(format="%.3f"),
        },
    )


@st.fragment(run_every=REFRESH_SECONDS if live else None)
def live_view() -> None:
    """Re-run alone every REFRESH_SECONDS while the session trains; reads only new metrics."""
    try:
        now = control.session_status(store, sid)
    except ArenaError as exc:
        show_error(exc)
        return
    if live and not sv.is_live(now["status"]):
        st.rerun()  # it ended: a full rerun turns the refresh off
    st.markdown(f"#### {sv.status_text(now['status'])}")
    if now.get("reason"):
        st.caption(now["reason"])
    sv.control_buttons(store, sid, now["status"], "mon")
    progress_bars(now)
    job_table(now)
    tail = sv.metrics_tail(store, sid)
    if not tail.records:
        st.info("No metrics yet: the curves appear after the first logging steps.")
        return
    index = st.session_state.setdefault(INDEXES, {}).setdefault(sid, SeriesIndex())
    left, right = st.columns(2)  # the index reads only the records added since the last tick
    left.plotly_chart(loss_figure(tail.records, index), key="mon_loss")
    right.plotly_chart(f1_figure(tail.records, index), key="mon_f1")


live_view()
