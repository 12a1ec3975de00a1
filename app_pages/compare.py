"""Compare: curves, best metrics and the differing settings of several sessions side by side."""

import streamlit as st

from arena_core.errors import ArenaError
from arena_core.viz.charts import compare_figure
from arena_core.viz.compare import (
    LABEL_LEVEL,
    LEVEL_TITLES,
    LEVELS,
    MODEL_LEVEL,
    diff_table,
    label_set_warnings,
    metrics_table,
    model_names,
    nodes_table,
    score_columns,
    session_titles,
)
from ui import session_views as sv
from ui.common import COMPARE_SESSIONS, SESSIONS, get_store, show_error, table

PICK, FAMILY, LEVEL = "cmp_sessions", "cmp_family", "cmp_level"
LEVEL_CHOICES = {MODEL_LEVEL: "Per model", LABEL_LEVEL: "Per label"}
LEVEL_NOTES = {
    MODEL_LEVEL: (
        "Validation macro-F1 of each model at its best epoch: the number the Monitor and "
        "Sessions pages show. A one-vs-all model's macro-F1 averages its two classes (the "
        "label and 'not label'); the F1 of the label alone is under 'Per label'."
    ),
    LABEL_LEVEL: (
        "Validation F1 of each label at its model's best epoch. For a one-vs-all key it is "
        "the F1 of the label's positive class in its binary model."
    ),
}

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

titles = session_titles(summaries)  # name · creation time: never an id where a name exists
families = {
    parent: [s.id for s in summaries if s.parent == parent]
    for parent in dict.fromkeys(s.parent for s in summaries if s.parent)
    if parent in titles
}


def family_of(picked: list[str]) -> str | None:
    """The parent whose family (itself and its relaunches) the picked sessions are, if any."""
    for parent, children in families.items():
        if parent in picked and len(picked) > 1 and set(picked) <= {parent, *children}:
            return parent
    return None


if requested:  # "Compare with its parent" on Monitor or Sessions: [parent, child]
    st.session_state[PICK] = [i for i in dict.fromkeys(requested) if i in titles]
    st.session_state[FAMILY] = family_of(st.session_state[PICK])
elif PICK not in st.session_state:
    first = next(iter(families.items()), None)
    st.session_state[PICK] = [first[0], *first[1]] if first else []
    st.session_state[FAMILY] = first[0] if first else None


def pick_family() -> None:
    if parent := st.session_state.get(FAMILY):
        st.session_state[PICK] = [parent, *families[parent]]


def picks_changed() -> None:
    st.session_state[FAMILY] = family_of(st.session_state.get(PICK, []))


if families:
    if st.session_state.get(FAMILY) not in (None, *families):
        st.session_state[FAMILY] = None  # its parent was deleted meanwhile
    st.selectbox(
        "Quick pick: a session and its relaunches",
        [None, *families],
        format_func=lambda p: (
            "—" if p is None else f"{titles[p]} + {len(families[p])} relaunch(es)"
        ),
        key=FAMILY,
        on_change=pick_family,
    )
st.session_state[PICK] = [i for i in st.session_state.get(PICK, []) if i in titles]
chosen = st.multiselect(
    "Sessions", list(titles), format_func=titles.get, key=PICK, on_change=picks_changed
)
if len(chosen) < 2:
    st.info("Pick at least two sessions to compare.")
    st.stop()
level = st.session_state.get(LEVEL, MODEL_LEVEL)
try:
    manifests = [store.load(session_id) for session_id in chosen]
    scores = metrics_table(store, chosen, level, titles)
except ArenaError as exc:
    show_error(exc)
    st.stop()
for warning in label_set_warnings(manifests, titles):
    st.warning(warning, icon=":material/warning:")

# ---- curves: one colour per model, one line style per session, named by session and model
records = {session_id: sv.all_records(store, session_id) for session_id in chosen}
if any(records.values()):
    names = model_names(manifests)
    left, right = st.columns(2)
    for column, metric in ((left, "loss"), (right, "macro_f1")):
        column.plotly_chart(
            compare_figure(records, metric, titles=titles, models=names), key=f"cmp_{metric}"
        )
else:
    st.info("No metrics logged yet by these sessions: the curves appear once they train.")

# ---- best metrics side by side, named by what they are
st.markdown(f"#### {LEVEL_TITLES[level]}")
st.radio("Scores", list(LEVELS), format_func=LEVEL_CHOICES.get, horizontal=True, key=LEVEL)
st.caption(LEVEL_NOTES[level])
if scores.empty:
    st.caption("No finished model in these sessions yet.")
else:
    table(
        scores,
        key="cmp_metrics",
        column_config={
            c: st.column_config.NumberColumn(format="%+.3f" if c.startswith("Δ") else "%.3f")
            for c in score_columns(scores)
        },
    )
    st.caption(f"Δ: difference to {titles[chosen[0]]}, the first session picked.")
nodes = nodes_table(store, chosen, titles)
if not nodes.empty:  # sessions trained on a Ray cluster: where each model ran
    st.markdown("#### Ray node that trained each model")
    table(nodes, key="cmp_nodes")

# ---- settings: only what differs
st.markdown("#### Settings that differ")
diff = diff_table(manifests, titles)
if diff.empty:
    st.success("These sessions have the same settings, strategies, data and split.")
else:
    table(diff, key="cmp_diff")
