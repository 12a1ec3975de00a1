"""Relaunch with other settings: clone a session and edit anything, with the plan preview.

Users relaunch to try another model, another strategy for a key, per-language models or other
training settings on the same rows and split. Every change goes through
``arena_core.session.relaunch.preview_relaunch``, so the preview shows exactly what the button
will create, and an impossible choice reads as one message before anything is written.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import streamlit as st

from arena_core.errors import ArenaError
from arena_core.session.manifest import SessionManifest, TrainingConfig
from arena_core.session.relaunch import RelaunchChanges, preview_relaunch
from arena_core.session.strategy import Strategy
from arena_core.store.session_store import SessionStore
from arena_core.training.precision import help_text as precision_help
from arena_core.viz.wording import field_label
from ui.common import show_error
from ui.plan_preview import MODEL_HELP, MODELS, STRATEGY_HELP, STRATEGY_TEXT, show_plan

STRATEGIES = [s.value for s in Strategy if s is not Strategy.AUTO]
# Settings with a widget of their own above the grid, or chosen by the planner.
NOT_IN_GRID = {"model"}
SCIENTIFIC = {"learning_rate"}  # shown as 1.0e-04, where '%g' would read 0.0001
# Help that depends on the machine (what 'auto' does here) rather than the field's description.
FIELD_HELP = {"precision": precision_help()}


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(int/float/bool/str, optional?) of a TrainingConfig field's annotation."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = [a for a in args if a is not type(None)]
        return kinds[0], True
    return annotation, False


def _setting_input(name: str, current: Any, key: str) -> Any:
    """One widget for one training setting, prefilled with the parent's value."""
    info = TrainingConfig.model_fields[name]
    kind, optional = _base_type(info.annotation)
    empty_means = "automatic" if name == "epochs" else "default"
    label = field_label(name) + (f" (empty = {empty_means})" if optional else "")
    help_text = FIELD_HELP.get(name, info.description)
    if typing.get_origin(kind) is typing.Literal:  # a fixed set of words (precision)
        options = list(typing.get_args(kind))
        index = options.index(current) if current in options else 0
        return st.selectbox(label, options, index=index, key=key, help=help_text)
    if kind is bool:
        return st.checkbox(label, value=bool(current), key=key, help=help_text)
    if kind is int:
        return st.number_input(label, value=current, step=1, key=key, help=help_text)
    if kind is float:
        fmt = "%.1e" if name in SCIENTIFIC else "%g"
        step = 1e-5 if name in SCIENTIFIC else 0.01
        return st.number_input(label, value=current, step=step, format=fmt, key=key, help=help_text)
    return st.text_input(label, value="" if current is None else str(current), key=key)


def _model_input(current: str, prefix: str) -> str:
    """The model: a packaged choice, or any local folder / cached hub id typed in."""
    choices = [m for m in MODELS if m != "custom"]
    options = [*choices, "custom"]
    picked = st.radio(
        "Model",
        options,
        index=options.index(current) if current in choices else len(choices),
        format_func=MODELS.get,
        horizontal=True,
        help=MODEL_HELP,
        key=f"{prefix}_model",
    )
    if picked != "custom":
        return picked
    typed = st.text_input(
        "Model folder or hub id (must be available offline)",
        value="" if current in choices else current,
        key=f"{prefix}_model_custom",
    )
    return typed.strip() or current


def _strategy_inputs(manifest: SessionManifest, prefix: str) -> dict[str, str]:
    """A strategy per key, prefilled with what the parent trained; returns only the changes."""
    resolved = {k: v.value for k, v in (manifest.key_strategies or {}).items()}
    columns = st.columns(max(1, min(3, len(manifest.keys))))
    changed = {}
    for i, key in enumerate(manifest.keys):
        current = resolved.get(key, STRATEGIES[0])
        picked = columns[i % len(columns)].selectbox(
            f"Strategy for {key}",
            STRATEGIES,
            index=STRATEGIES.index(current),
            format_func=STRATEGY_TEXT.get,
            help=STRATEGY_HELP,
            key=f"{prefix}_strategy_{key}",
        )
        if picked != current:
            changed[key] = picked
    return changed


def _training_inputs(training: TrainingConfig, prefix: str) -> dict[str, Any]:
    """Every training setting in a grid; returns the ones that differ from the parent's."""
    names = [n for n in TrainingConfig.model_fields if n not in NOT_IN_GRID]
    columns = st.columns(3)
    overrides = {}
    for i, name in enumerate(names):
        current = getattr(training, name)
        with columns[i % 3]:
            value = _setting_input(name, current, f"{prefix}_{name}")
        if value != current:
            overrides[name] = value
    return overrides


def relaunch_form(store: SessionStore, manifest: SessionManifest, disabled: bool) -> str | None:
    """Clone-and-edit of the session ``manifest`` (as the page loaded it); returns the new
    session's id when one was created."""
    from arena_core.run import control  # light (no torch), but only needed on click

    session_id = manifest.id
    prefix = f"ses_rl_{session_id}"
    with st.expander("Relaunch with other settings"):
        st.caption(
            "A new session on the same rows and split: change the model, a key's strategy, "
            "per-language models or any training setting. The preview below is what it trains."
        )
        model = _model_input(manifest.training.model, prefix)
        strategies = _strategy_inputs(manifest, prefix)
        per_language = st.toggle(
            "One model set per language",
            value=manifest.language.per_language,
            disabled=not manifest.language.languages,
            help=None
            if manifest.language.languages
            else "This session's data has no language for its texts.",
            key=f"{prefix}_per_language",
        )
        st.markdown("**Training settings**")
        overrides = _training_inputs(manifest.training, prefix)
        if model != manifest.training.model:
            overrides["model"] = model
        changes = RelaunchChanges(strategies=strategies, per_language=per_language)
        try:
            preview = preview_relaunch(store, session_id, overrides, changes)
        except ArenaError as exc:
            show_error(exc)
            preview = None
        if preview is not None:
            show_plan(preview, preview.notes, key=f"{prefix}_plan")
            st.caption(f"It will be saved as **{preview.name}**.")
        if st.button(
            "Relaunch with these settings",
            key="ses_relaunch_custom",
            type="primary",
            disabled=disabled or preview is None,
        ):
            try:
                return control.relaunch(store, session_id, overrides, changes=changes)
            except ArenaError as exc:
                show_error(exc)
    return None
