"""Home: what is training now, the latest sessions, and a one-click demo for new users."""

import streamlit as st

from arena_core.errors import ArenaError
from arena_core.run.control import session_status
from arena_core.store.records import JobStatus
from arena_core.store.status import ACTIVE
from arena_core.viz.wording import when_text
from ui import dataset_state as ds_state
from ui import session_views as sv
from ui.common import DATASET, STRATEGY, get_store, open_monitor, show_error

LATEST = 5

st.title("Training Arena")
st.write("Train text classifiers on your annotations, one model set per key, and compare them.")

if st.button(
    "Try the demo",
    key="home_demo",
    type="primary",
    icon=":material/play_arrow:",
    help="Loads a small bundled EN/FR dataset (sentiment + themes) and opens the Strategy page.",
):
    ds_state.use_demo()
    st.switch_page(STRATEGY)

store = get_store()
try:
    summaries = sv.list_sessions(store)  # the cached, index-backed listing
except ArenaError as exc:
    show_error(exc)
    st.stop()

if not summaries:
    st.subheader("Get started in three steps")
    st.markdown(
        "1. **Dataset**: upload a CSV/Excel/JSON/Parquet file with texts and annotations.\n"
        "2. **Strategy**: choose how each annotation key is trained and launch.\n"
        "3. **Monitor**: follow the training live, then compare and use the models."
    )
    if st.button("Choose a dataset", key="home_to_dataset"):
        st.switch_page(DATASET)
    st.stop()


def _eta(seconds: float | None) -> str:
    if not seconds:
        return "estimating time left..."
    minutes, secs = divmod(int(seconds), 60)
    return f"about {minutes} min {secs:02d} s left" if minutes else f"about {secs} s left"


running = [s for s in summaries if s.status in ACTIVE]
st.subheader("Running now")
if not running:
    st.caption("Nothing is training right now.")
for summary in running:
    try:
        info = session_status(store, summary.id)
    except ArenaError as exc:
        show_error(exc)
        continue
    overall = info["progress"].get("overall") or {}
    done, total = overall.get("steps_done") or 0, overall.get("total_steps") or 0
    models_done = sum(job["status"] == JobStatus.COMPLETED for job in info["jobs"])
    label, button = st.columns([5, 1], vertical_alignment="bottom")
    label.progress(
        min(done / total, 1.0) if total else 0.0,
        text=f"**{summary.name}** ({info['status']}): {models_done}/{len(info['jobs'])} models, "
        f"step {done}/{total or '?'}, {_eta(overall.get('eta_seconds'))}",
    )
    if button.button("Monitor", key=f"home_monitor_{summary.id}", icon=":material/monitoring:"):
        open_monitor(summary.id)

st.subheader("Latest sessions")
for summary in summaries[:LATEST]:
    name_col, status_col, models_col, button = st.columns([4, 2, 2, 1], vertical_alignment="center")
    if summary.error:
        name_col.markdown(f"**{summary.id}**")
        status_col.markdown(":red-badge[unreadable]")
        models_col.caption(summary.error)
        continue
    name_col.markdown(f"**{summary.name}**  \n:gray[created {when_text(summary.created_at)}]")
    status_col.markdown(f":gray-badge[{summary.status}]")
    models_col.write(f"{summary.jobs_done}/{summary.n_jobs} models")
    if button.button("Open", key=f"home_open_{summary.id}"):
        open_monitor(summary.id)
