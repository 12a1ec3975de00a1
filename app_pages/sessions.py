"""Sessions: browse every saved session, read what it saved, repair, relaunch, resume, delete."""

import streamlit as st

from arena_core.errors import ArenaError
from arena_core.session.check import check
from arena_core.session.describe import (
    baseline_verdict,
    job_results,
    readable_sections,
)
from arena_core.session.manifest import STRATEGY_FIELDS
from arena_core.viz.wording import when_text
from ui import session_views as sv
from ui.common import (
    COMPARE,
    COMPARE_SESSIONS,
    DATASET,
    get_store,
    open_monitor,
    show_error,
    table,
)
from ui.job_tables import EXACT_MATCH_NOTE, SCORE_COLUMNS, any_multi_label, results_frame
from ui.relaunch_form import relaunch_form

FLASH = "ses_flash"
STRATEGY_PROBLEMS = (*STRATEGY_FIELDS, "multilabel_keys")

st.title("Sessions")
store = get_store()
if message := st.session_state.pop(FLASH, None):
    st.success(message)


summaries = sv.list_sessions(store)
if not summaries:
    st.info(
        "No sessions yet. A session is saved when you launch a training: choose a data file on "
        "the Dataset page, then strategies on the Strategy page. Sessions of the previous tool "
        "can be imported below."
    )
    sv.page_link(DATASET, "Go to the Dataset page", icon=":material/table:")
    sv.import_panel(store, expanded=True)
    st.stop()

# ---- filters and the table
left, middle, right = st.columns([3, 2, 3])
statuses = left.multiselect("Status", sorted({s.status for s in summaries}), key="ses_status")
origin = middle.selectbox(
    "Origin",
    ["all", "native", "legacy"],
    format_func={"all": "all", "native": "this app", "legacy": "previous tool"}.get,
    key="ses_origin",
)
text = right.text_input("Search", key="ses_search", placeholder="name, id, key, model")
shown = sv.filter_summaries(summaries, statuses, origin, text)
names = {s.id: s.name for s in summaries}
listed = shown[: sv.TABLE_ROWS]
more = (
    f" The {len(listed):,} newest are listed: search or filter to find the others."
    if len(shown) > len(listed)
    else ""
)
st.caption(f"{len(shown)} of {len(summaries)} sessions.{more} Click a row to see its details.")
event = table(
    sv.summary_frame(listed, names),
    key="ses_table",
    on_select="rerun",
    selection_mode="single-row",
    column_config={
        "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        "best macro-F1": st.column_config.NumberColumn(format="%.3f"),
        "strategy fields saved": st.column_config.CheckboxColumn(
            help="The four strategy fields a relaunch needs are saved (sessions imported from "
            "the previous tool may lack them: select one to repair it)."
        ),
    },
)
sid = sv.selected_session_id(event.selection.rows, [s.id for s in listed], key="ses_selected")
summary = next((s for s in summaries if s.id == sid), None)
if summary is None:
    sv.import_panel(store)
    st.stop()

# ---- the selected session
st.subheader(summary.name or sid)
created = when_text(summary.created_at)
st.caption(f"{sv.status_text(summary.status)} · created {created} · id `{sid}`")
if summary.parent:
    st.markdown(f"Relaunch of **{names.get(summary.parent, summary.parent)}**")
if children := [s.name or s.id for s in summaries if s.parent == sid]:
    st.markdown("Relaunched as: " + ", ".join(f"**{c}**" for c in children))


def delete_panel() -> None:
    def trash() -> None:
        if sv.run_action(lambda: store.trash(sid)) is not None:
            st.session_state[FLASH] = f"Session {sid} moved to the trash ({store.trash_root})."
            st.session_state.pop("ses_table", None)

    with st.expander("Delete"):
        sure = st.checkbox("Move this session to the trash", key=f"ses_confirm_delete_{sid}")
        st.button("Delete", key="ses_delete", disabled=not sure, on_click=trash, type="primary")


if summary.error:
    st.error(f"This session cannot be read: {summary.error}", icon=":material/broken_image:")
    delete_panel()
    st.stop()
try:
    manifest, load_warnings = store.load_with_warnings(sid)
except ArenaError as exc:
    show_error(exc)
    st.stop()
for warning in load_warnings:
    st.warning(warning)
problems = check(manifest, store.session_dir(sid))
errors = [p for p in problems if p.severity == "error"]
strategy_fields = list(dict.fromkeys(p.field for p in errors if p.field in STRATEGY_PROBLEMS))
if strategy_fields:
    details = "\n".join(f"- {p.message}" for p in errors if p.field in STRATEGY_PROBLEMS)
    st.warning(
        f"Strategy fields missing or inconsistent: **{', '.join(strategy_fields)}**. Without "
        f"them no model can be planned, so this session cannot be relaunched.\n\n{details}",
        icon=":material/warning:",
    )
    sv.repair_panel(store, sid)
other = [p for p in errors if p.field not in STRATEGY_PROBLEMS]
for problem in other:
    st.error(f"{problem.field}: {problem.message}")

# ---- actions
why_not = "; ".join(p.message for p in other) or None
if strategy_fields:
    why_not = "repair the missing strategy fields first (see above)."
relaunch_col, resume_col, monitor_col, compare_col = st.columns(4)
if relaunch_col.button(
    "Relaunch",
    key="ses_relaunch",
    type="primary",
    icon=":material/replay:",
    disabled=why_not is not None,
    help="A new session on the same data, split and strategies; this one stays as it is.",
    width="stretch",
):
    from arena_core.run import control

    if child := sv.run_action(lambda: control.relaunch(store, sid)):
        open_monitor(child)
with resume_col:
    sv.control_buttons(store, sid, summary.status, "ses")
if monitor_col.button("Monitor", key="ses_monitor", icon=":material/monitoring:", width="stretch"):
    open_monitor(sid)
if compare_col.button(
    "Compare with parent", key="ses_compare", disabled=not summary.parent, width="stretch"
):
    st.session_state[COMPARE_SESSIONS] = [summary.parent, sid]
    st.switch_page(COMPARE)
if why_not:
    st.caption(f"Relaunch is unavailable: {why_not}")
if child := relaunch_form(store, manifest, disabled=why_not is not None):
    open_monitor(child)
delete_panel()

# ---- results and saved settings
results = job_results(store.session_dir(sid), manifest)
if results:
    st.markdown("#### Models")
    verdict = baseline_verdict([(r["macro_f1"], r["baseline_macro_f1"]) for r in results])
    if verdict:
        st.warning(verdict, icon=":material/compare_arrows:")
    table(results_frame(results), key="ses_results", column_config=SCORE_COLUMNS)
    if any_multi_label(results):
        st.caption(EXACT_MATCH_NOTE)
st.markdown("#### Saved settings")
sv.render_sections(readable_sections(manifest), key="ses_sections")
with st.expander("Raw manifest (JSON)"):
    st.json(manifest.model_dump(mode="json"), expanded=False)
sv.import_panel(store)
