"""Dataset: upload a file (or take the demo), choose its columns, see the labels per key."""

import streamlit as st

from arena_core.data.filtering import apply_min_examples
from arena_core.data.uploads import save_upload
from arena_core.errors import ArenaError
from arena_core.viz.charts import label_counts_figure
from ui import dataset_state as ds_state
from ui.common import DATASET_OPTIONS, STRATEGY, get_store, show_error, table

st.title("Dataset")
st.caption("Upload annotated texts, tell which columns hold what, and check the labels per key.")

upload = st.file_uploader("Data file", type=ds_state.UPLOAD_TYPES, key="ds_upload")
if upload is not None and st.session_state.get("ds_last_upload") != upload.file_id:
    st.session_state["ds_last_upload"] = upload.file_id
    try:
        path, safe_name = save_upload(get_store().home, upload.name, upload.getvalue())
    except ArenaError as exc:
        show_error(exc)
        st.stop()
    ds_state.choose_dataset(path, safe_name)
if st.button("Use the demo dataset", key="ds_demo", icon=":material/science:"):
    ds_state.use_demo()

chosen = ds_state.current()
if chosen is None:
    st.info("Upload a CSV, TSV, JSON lines, JSON, Parquet or Excel file, or use the demo dataset.")
    st.stop()
path, source, saved_options = chosen

try:
    raw = ds_state.read(path, source)
except ArenaError as exc:
    show_error(exc)
    st.stop()
frame = raw.frame
columns = list(frame.columns)
st.subheader(f"{source}: {len(frame)} rows, {len(columns)} columns")
table(frame.head(50), height=240)

# ---- column roles, prefilled from the saved options or a guess
defaults = saved_options or ds_state.default_options(raw)


def _index(options: list, value) -> int:
    return options.index(value) if value in options else 0


optional = [None, *columns]
left, right = st.columns(2)
text_col = left.selectbox(
    "Text column",
    columns,
    index=_index(columns, defaults.text_col),
    key=ds_state.column_widget_key("text"),
)
layout_choice = right.radio(
    "Labels are in",
    ["annotation-json", "label-columns"],
    index=0 if defaults.layout == "annotation-json" else 1,
    format_func={
        "annotation-json": "one JSON annotation column",
        "label-columns": "one column per key",
    }.get,
    key=ds_state.column_widget_key("layout"),
    horizontal=True,
)
annotation_col, label_cols = None, []
if layout_choice == "annotation-json":
    annotation_col = right.selectbox(
        "Annotation column (JSON object per row)",
        columns,
        index=_index(columns, defaults.annotation_col),
        key=ds_state.column_widget_key("annotation"),
    )
else:
    label_cols = right.multiselect(
        "Label columns (one per key)",
        [c for c in columns if c != text_col],
        default=[c for c in defaults.label_cols if c in columns and c != text_col],
        key=ds_state.column_widget_key("labels"),
    )


def optional_column(label: str, default: str | None, key: str) -> str | None:
    """A column picker whose first choice is "(none)"."""
    return left.selectbox(
        label,
        optional,
        index=_index(optional, default),
        format_func=lambda c: "(none)" if c is None else c,
        key=key,
    )


lang_col = optional_column("Language column", defaults.lang_col, ds_state.column_widget_key("lang"))
detect = False
if lang_col is None:
    detect = left.checkbox(
        "Detect languages", value=defaults.detect_language, key=ds_state.column_widget_key("detect")
    )
id_col = optional_column("Id column (optional)", defaults.id_col, ds_state.column_widget_key("id"))
min_examples = right.number_input(
    "Min examples per label",
    min_value=1,
    max_value=10_000,
    value=int(st.session_state.get(ds_state.MIN_EXAMPLES, ds_state.DEFAULT_MIN_EXAMPLES)),
    help="Labels with fewer examples are dropped (not trained).",
    key="ds_min_examples",
)
st.session_state[ds_state.MIN_EXAMPLES] = int(min_examples)
options = defaults.model_copy(
    update={
        "text_col": text_col,
        "layout": layout_choice,
        "annotation_col": annotation_col,
        "label_cols": label_cols,
        "lang_col": lang_col,
        "id_col": id_col,
        "detect_language": detect,
    }
)
st.session_state[DATASET_OPTIONS] = options.model_dump()

# ---- the normalised dataset
try:
    dataset = ds_state.load(path, source, options)
    kept = apply_min_examples(dataset, int(min_examples), per_language=False)
except ArenaError as exc:
    for warning in raw.warnings:
        st.warning(warning)
    show_error(exc)
    st.stop()

for warning in dataset.warnings:
    st.warning(warning)
cols = st.columns(3)
cols[0].metric("Rows with text", dataset.n_rows)
cols[1].metric("Annotation keys", len(dataset.keys))
cols[2].metric("Languages", len(dataset.languages) or "-")
if dataset.languages:
    st.markdown(" ".join(f":blue-badge[{lang}: {n}]" for lang, n in dataset.languages.items()))

dropped_by_key: dict[str, list[str]] = {}
for item in kept.dropped:
    dropped_by_key.setdefault(item.key, []).append(item.label)
for key, stats in dataset.keys.items():
    st.subheader(f"Key: {key}")
    dropped = dropped_by_key.get(key, [])
    badges = [f":gray-badge[{stats.n_values} values]"]
    if stats.multi_valued:
        badges.append(":orange-badge[multi-valued]")
    if stats.empty_rows:
        badges.append(f":gray-badge[{stats.empty_rows} rows without value]")
    if dropped:
        badges.append(f":red-badge[{len(dropped)} rare labels dropped]")
    st.markdown(" ".join(badges))
    figure = label_counts_figure(stats.counts, dropped, title=None, height=280)
    st.plotly_chart(figure, key=f"ds_chart_{key}")
    if dropped:
        st.caption(f"Dropped (fewer than {int(min_examples)} examples): {', '.join(dropped)}")

if st.button(
    "Continue to Strategy", key="ds_continue", type="primary", icon=":material/arrow_forward:"
):
    st.switch_page(STRATEGY)
