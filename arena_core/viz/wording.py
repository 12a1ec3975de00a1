"""How stored names and values read on a page: field labels, empty values, strategies.

Manifests, reports and metrics keep their machine names (``batch_size``, ``files_per_key``,
``None``); users read words. Every page turns names and values into text here, so one name
reads the same everywhere and nothing shows ``None`` or snake_case. No streamlit here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from arena_core.training.precision import setting_text

EMPTY = "—"  # how a missing value reads (an empty cell would look like a rendering bug)

# Field names whose automatic wording ("batch size") would be wrong or unclear.
FIELD_LABELS = {
    "model": "Model",
    "epochs": "Epochs",
    "min_steps": "Automatic length: at least (steps)",
    "min_epochs": "Automatic length: at least (epochs)",
    "max_epochs": "Automatic length: at most (epochs)",
    "eval_batch_size": "Evaluation batch size",
    "max_length": "Max length (tokens)",
    "warmup_ratio": "Warm-up share of steps",
    "early_stopping_patience": "Early stopping patience (epochs)",
    "attention_dropout": "Attention dropout",
    "precision": "Precision",
    "logging_steps": "Log the training loss every (steps)",
    "checkpoint_every_steps": "Extra checkpoint every (steps)",
    "key_strategies": "Strategy per key",
    "multiclass_keys": "Multi-class keys",
    "onevsall_keys": "One-vs-all keys",
    "multilabel_keys": "Multi-label keys",
    "files_per_key": "Model folder per key",
    "requested_strategies": "Strategy as chosen",
    "auto_threshold": "Auto: one-vs-all up to (labels)",
    "val_ratio": "Validation share",
    "test_ratio": "Test share",
    "macro_f1": "Macro-F1",
    "val_macro_f1": "Validation macro-F1",
    "test_macro_f1": "Test macro-F1",
    "baseline_macro_f1": "TF-IDF baseline macro-F1",
    "gain_over_baseline": "Gain over baseline",
    "val_loss": "Validation loss",
    "train_loss": "Training loss",
    "best_epoch": "Best epoch",
    "per_language": "One model set per language",
    "lang_col": "Language column",
    "text_col": "Text column",
    "id_col": "Id column",
    "annotation_col": "Annotation column",
    "label_cols": "Label columns",
    "n_rows": "Rows",
    # Compare's "Settings that differ" (arena_core.viz.compare: group.field names)
    "strategies": "Strategy",
    "training.seed": "Training seed",
    "dataset.source_name": "Source file",
    "dataset.source_sha256": "Source file SHA-256",
    "dataset.snapshot_sha256": "Data snapshot SHA-256",
    "filtering.min_examples": "Min examples per label",
    "split.seed": "Split seed",
    "split.stratify": "Stratified split",
    "split.sha256": "Split SHA-256",
    "plan.models": "Models to train",
}
# Values that need a word of explanation wherever they are shown.
APPROACH_TEXT = {
    "hybrid": "hybrid (strategies differ per key)",
    "unknown": "unknown (strategy fields missing)",
}
# What "off"/"automatic" means for fields where 0 or empty is a setting, not a missing value.
SPECIAL_VALUES = {
    ("early_stopping_patience", 0): "off",
    ("epochs", None): "automatic",
    ("attention_dropout", None): "model's own",
    ("checkpoint_every_steps", None): "each epoch only",
}


def when_text(iso_time: str | None, seconds: bool = False) -> str:
    """'2026-12-02T10:04:31+00:00' -> '2026-12-02 10:04' (with ':31' when ``seconds``)."""
    return (iso_time or "")[: 19 if seconds else 16].replace("T", " ")


def field_label(name: str) -> str:
    """The label a person reads for a stored field name: 'batch_size' -> 'Batch size'."""
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    words = str(name).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def value_text(value: Any, field: str | None = None) -> str:
    """A stored value as text: no 'None', no '[...]', yes/no for booleans, short floats."""
    special = (field, value) if field is not None and _hashable(value) else None
    if special in SPECIAL_VALUES:
        return SPECIAL_VALUES[special]
    if field == "approach" and isinstance(value, str):
        return approach_text(value)
    if field == "precision" and isinstance(value, str):
        return setting_text(value)  # 'auto' says what it does on this machine
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "value") and isinstance(value.value, str):  # enums
        return value.value
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-3 and value else f"{value:g}"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {value_text(v)}" for k, v in value.items()) or EMPTY
    if isinstance(value, list | tuple | set):
        return ", ".join(value_text(v) for v in value) or EMPTY
    return str(value)


def job_name(key: str, label: str | None = None, language: str | None = None) -> str:
    """A model as people name it: 'sentiment', 'themes: economy' (one-vs-all), '... (FR)'.

    Job ids ('themes__one-vs-all__economy__FR') stay on disk; pages show this instead.
    """
    name = f"{key}: {label}" if label else key
    return f"{name} ({language})" if language else name


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def approach_text(approach: str) -> str:
    """'hybrid' -> 'hybrid (strategies differ per key)'; strategies read as they are."""
    return APPROACH_TEXT.get(approach, approach)


def readable_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Table rows with labelled columns and every cell as text (see ``value_text``)."""
    return [{field_label(k): value_text(v, k) for k, v in row.items()} for row in rows]


def field_rows(values: Mapping[str, Any]) -> list[dict[str, str]]:
    """A settings mapping as two-column rows: {'setting': label, 'value': text}."""
    return [{"setting": field_label(k), "value": value_text(v, k)} for k, v in values.items()]
