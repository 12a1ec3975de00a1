"""Strategy: choose how each key is trained, preview the plan, launch the session."""

import json

import pandas as pd
import streamlit as st

from arena_core.data.filtering import apply_min_examples
from arena_core.errors import ArenaError, SessionBusy
from arena_core.run import control
from arena_core.session.create import SessionSettings, create_session, prepare
from arena_core.session.manifest import SplitSettings, TrainingConfig
from arena_core.session.strategy import Strategy, auto_strategy
from arena_core.training.job_runner import check_model
from arena_core.training.precision import CHOICES as PRECISIONS
from arena_core.training.precision import help_text as precision_help
from ui import dataset_state as ds_state
from ui.common import DATASET, get_store, open_monitor, show_error, table
from ui.dataset_state import remember
from ui.plan_preview import MODEL_HELP, MODELS, STRATEGY_HELP, STRATEGY_TEXT, show_plan

LAUNCHED = "st_launched"  # {"fingerprint": str, "id": str | None}: guards against double clicks
FIELDS = TrainingConfig.model_fields


st.title("Strategy")
chosen = ds_state.current()
if chosen is None or chosen[2] is None:
    st.info("Choose a dataset and its columns first.")
    if st.button("Go to Dataset", key="st_to_dataset"):
        st.switch_page(DATASET)
    st.stop()
path, source, options = chosen
min_examples = int(st.session_state.get(ds_state.MIN_EXAMPLES, ds_state.DEFAULT_MIN_EXAMPLES))
try:
    dataset = ds_state.load(path, source, options)
except ArenaError as exc:
    show_error(exc)
    if st.button("Fix it on the Dataset page", key="st_fix_dataset"):
        st.switch_page(DATASET)
    st.stop()
st.caption(
    f"{source}: {dataset.n_rows} rows. Values with fewer than {min_examples} examples are not "
    "trained (too rare to learn or to score); change the minimum on the Dataset page."
)

# ---- one strategy per key
per_language = st.toggle(
    "One set of models per language",
    disabled=not dataset.languages,
    help=None
    if dataset.languages
    else "No language known: choose a language column or detection on the Dataset page.",
    **remember("st_per_language", False),
) and bool(dataset.languages)
kept = apply_min_examples(dataset, min_examples, per_language=False).keys
choices = ["auto", *(s.value for s in Strategy if s is not Strategy.AUTO)]
strategies: dict[str, str] = {}
st.markdown("##### How each key is trained", help=STRATEGY_HELP)
for key, stats in dataset.keys.items():
    name_col, choice_col, auto_col = st.columns([2, 2, 3], vertical_alignment="center")
    n_kept, n_all = len(kept[key].labels), len(stats.counts)
    per_text = "several values per text" if stats.multi_valued else "one value per text"
    rare = f", {n_all - n_kept} too rare" if n_all > n_kept else ""
    name_col.markdown(f"**{key}**: {n_kept} values to learn{rare}; {per_text}")
    strategies[key] = choice_col.selectbox(
        f"Strategy for {key}",
        choices,
        format_func=STRATEGY_TEXT.get,
        label_visibility="collapsed",
        help=STRATEGY_HELP,
        **remember(f"st_strategy_{key}", "auto"),
    )
    auto = auto_strategy(stats.multi_valued, n_kept)
    auto_col.caption(f"auto would choose: {STRATEGY_TEXT[auto.value]}")

# ---- model and hyper-parameters
model_choice = st.radio(
    "Model",
    list(MODELS),
    format_func=MODELS.get,
    horizontal=True,
    help=MODEL_HELP,
    **remember("st_model", "minilm"),
)
model = model_choice
if model_choice == "custom":
    model = st.text_input(
        "Model folder or hub id (must be available offline)", **remember("st_model_custom", "")
    )
    from ui.model_catalog import catalog_picker  # here: the catalog is only for 'custom'

    model = catalog_picker(dataset.languages) or model
demo = bool(st.session_state.get(ds_state.IS_DEMO))
if demo:
    st.caption("Demo: the tiny model is the quickest; MiniLM learns for real.")
with st.expander("Hyper-parameters"):
    left, right = st.columns(2)
    epochs = left.number_input(
        "Epochs (0 = automatic)",
        0,
        100,
        help="0 sizes the training by optimizer steps: small datasets get more passes, large "
        f"ones fewer (at least {FIELDS['min_steps'].default} steps, "
        f"{FIELDS['min_epochs'].default} to {FIELDS['max_epochs'].default} epochs).",
        **remember("st_epochs", 0),
    )
    batch_size = left.number_input(
        "Batch size", 1, 1024, **remember("st_batch_size", FIELDS["batch_size"].default)
    )
    learning_rate = right.number_input(
        "Learning rate",
        1e-7,
        0.5,
        step=1e-5,
        format="%.1e",
        **remember("st_learning_rate", FIELDS["learning_rate"].default),
    )
    max_length = right.number_input(
        "Max length (tokens)", 8, 4096, **remember("st_max_length", FIELDS["max_length"].default)
    )
    patience = left.number_input(
        "Early stopping patience (0 = off)",
        0,
        100,
        help=FIELDS["early_stopping_patience"].description,
        **remember("st_patience", FIELDS["early_stopping_patience"].default),
    )
    class_weights = right.checkbox(
        "Class weights",
        help=FIELDS["class_weights"].description,
        **remember("st_class_weights", False),
    )
    attention_dropout = left.number_input(
        "Attention dropout",
        0.0,
        0.9,
        step=0.05,
        help="Dropout on attention weights. 0 (the default) lets PyTorch use its fused "
        "attention kernel: on a CPU about 300 MiB less memory and faster steps for MiniLM; "
        "hidden-layer dropout still regularizes.",
        **remember("st_attention_dropout", FIELDS["attention_dropout"].default),
    )
    precision = right.selectbox(
        "Precision",
        PRECISIONS,
        help=precision_help(),
        **remember("st_precision", FIELDS["precision"].default),
    )
with st.expander("Split and name"):
    left, right = st.columns(2)
    val_ratio = left.number_input(
        "Validation share", 0.05, 0.5, step=0.05, **remember("st_val", 0.2)
    )
    test_ratio = left.number_input("Test share", 0.0, 0.5, step=0.05, **remember("st_test", 0.0))
    seed = right.number_input("Seed", 0, 2**31 - 1, **remember("st_seed", 42))
    name = right.text_input("Session name", **remember("st_name", source.rsplit(".", 1)[0]))

training = TrainingConfig(
    model=model.strip() or "minilm",
    epochs=int(epochs) or None,
    batch_size=int(batch_size),
    learning_rate=float(learning_rate),
    max_length=int(max_length),
    early_stopping_patience=int(patience),
    class_weights=bool(class_weights),
    attention_dropout=float(attention_dropout),
    precision=precision,
    seed=int(seed),
)
settings = SessionSettings(
    strategies=strategies,
    per_language=per_language,
    min_examples=min_examples,
    split=SplitSettings(val_ratio=float(val_ratio), test_ratio=float(test_ratio), seed=int(seed)),
    training=training,
    name=name.strip() or None,
)

# ---- live plan preview (prepare writes nothing)
prepared = None
try:
    if model_choice in ("custom", "embed:minilm"):
        check_model(training.model)
    prepared = prepare(dataset, settings, ds_state.source_sha256(path))
except ArenaError as exc:
    show_error(exc)
if prepared is not None:
    show_plan(prepared.manifest, prepared.notes, key="st_plan")
    dropped = prepared.manifest.filtering.dropped
    if dropped:
        with st.expander(f"{len(dropped)} values not trained (fewer than {min_examples} examples)"):
            table(
                pd.DataFrame(
                    [
                        {"key": d.key, "value": d.label, "examples": d.count}
                        | ({"language": d.language} if d.language else {})
                        for d in dropped
                    ]
                ),
                hide_index=True,
            )

# ---- launch, at most once per set of choices
fingerprint = json.dumps(
    {"path": path, "options": options.model_dump(), "settings": repr(settings)}, sort_keys=True
)
launched = st.session_state.get(LAUNCHED)
already = bool(launched and launched["fingerprint"] == fingerprint)
if already and launched["id"]:
    st.success(f"Launched as session {launched['id']}. Change a setting to launch another.")
    if st.button("Open monitor", key="st_open_monitor"):
        open_monitor(launched["id"])
clicked = st.button(
    "Launch",
    key="st_launch",
    type="primary",
    disabled=prepared is None or already,
    icon=":material/rocket_launch:",
)
if clicked and prepared is not None and not already:
    st.session_state[LAUNCHED] = {"fingerprint": fingerprint, "id": None}
    store = get_store()
    try:
        manifest = create_session(store, prepared)
    except ArenaError as exc:
        st.session_state.pop(LAUNCHED, None)
        show_error(exc)
        st.stop()
    st.session_state[LAUNCHED] = {"fingerprint": fingerprint, "id": manifest.id}
    try:
        control.launch(store, manifest.id)
    except SessionBusy:
        pass  # a worker already runs it: just show it
    except ArenaError as exc:
        st.error(f"Session {manifest.id} was created but not started.")
        show_error(exc)
        st.stop()
    open_monitor(manifest.id)
