"""Compare: curves, best metrics and the differing settings of several sessions side by side."""

import json

import pandas as pd
import streamlit as st

from arena_core.errors import ArenaError
from arena_core.viz.charts import compare_figure
from arena_core.viz.compare import config_diff, label_set_warnings, metrics_table
from ui import session_views as sv
from ui.common import COMPARE_SESSIONS, SESSIONS, get_store, show_error

PICK, FAMILY = "cmp_sessions", "cmp_family"

st.title("Compare")
store = get_store()
summaries = sv.readable(sv.list_sessions(store))
requested = st.session_state.pop(COMPARE_SESSIONS, None) or []
if len(summaries) < 2:
    st.info(
        "Comparing needs at least two sessions. Relaunch a session with other settings from "
        "the Sessions page, then come back here."
    )
    sv.page_link(SESSIONS, "Go to the Sessions page", icon=":material/folder_open:")
    st.stop()

labels = {s.id: sv.session_label(s) for s in summaries}
families = {
    parent: [s.id for s in summaries if s.parent == parent]
    for parent in dict.fromkeys(s.parent for s in summaries if s.parent)
    if parent in labels
}
if requested:
    st.session_state[PICK] = [i for i in requested if i in labels]
elif PICK not in st.session_state:
    first = next(iter(families.items()), None)
    st.session_state[PICK] = [first[0], *first[1]] if first else []


def pick_family() -> None:
    if parent := st.session_state.get(FAMILY):
        st.session_state[PICK] = [parent, *families[parent]]


if families:
    st.selectbox(
        "Quick pick: a session and its relaunches",
        [None, *families],
        format_func=lambda p: (
            "—" if p is None else f"{labels[p]} + {len(families[p])} relaunch(es)"
        ),
        key=FAMILY,
        on_change=pick_family,
    )
st.session_state[PICK] = [i for i in st.session_state.get(PICK, []) if i in labels]
chosen = st.multiselect("Sessions", list(labels), format_func=labels.get, key=PICK)
if len(chosen) < 2:
    st.info("Pick at least two sessions to compare.")
    st.stop()
try:
    manifests = [store.load(session_id) for session_id in chosen]
    table = metrics_table(store, chosen)
except ArenaError as exc:
    show_error(exc)
    st.stop()
for warning in label_set_warnings(manifests):
    st.warning(warning, icon=":material/warning:")

# ---- curves: one colour per session, train solid, validation dashed
records = {session_id: sv.all_records(store, session_id) for session_id in chosen}
if any(records.values()):
    left, right = st.columns(2)
    left.plotly_chart(compare_figure(records, "loss"), key="cmp_loss")
    right.plotly_chart(compare_figure(records, "macro_f1"), key="cmp_f1")
else:
    st.info("None of these sessions has logged metrics yet.")

# ---- best metrics side by side
st.markdown("#### Best validation F1")
level = st.radio("Per", ["key", "label"], horizontal=True, key="cmp_level")
shown = table[table["level"] == level].drop(
    columns=["level"] if level == "label" else ["level", "label"]
)
if shown.empty:
    st.caption("No finished model in these sessions yet.")
else:
    numeric = [c for c in shown.columns if c not in ("key", "label", "language")]
    st.dataframe(
        shown,
        hide_index=True,
        key="cmp_metrics",
        column_config={
            c: st.column_config.NumberColumn(format="%+.3f" if c.startswith("Δ") else "%.3f")
            for c in numeric
        },
    )

# ---- settings: only what differs
st.markdown("#### Settings that differ")


def text(value) -> str:
    return "—" if value is None else value if isinstance(value, str) else json.dumps(value)


diff = config_diff(manifests)
if diff:
    rows = [{"field": d["field"], **{k: text(v) for k, v in d["values"].items()}} for d in diff]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="cmp_diff")
else:
    st.success("These sessions have the same settings, strategies, data and split.")
