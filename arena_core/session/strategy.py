"""Per-key training strategies (multi-class, one-vs-all, multi-label) and one model to train.

``session.plan`` turns a manifest's strategies into the list of ``ModelJob``s.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from arena_core.errors import StrategyError

DEFAULT_AUTO_THRESHOLD = 5  # auto: single-valued keys with <= this many values go multi-class


class Strategy(StrEnum):
    MULTI_CLASS = "multi-class"  # one softmax model over the key's values
    ONE_VS_ALL = "one-vs-all"  # one binary model per value
    MULTI_LABEL = "multi-label"  # one model, one sigmoid output per value
    AUTO = "auto"  # resolved to one of the above when the session is created


class ModelJob(BaseModel):
    """One model to train. ``labels`` are the model's outputs, in output order."""

    model_config = ConfigDict(frozen=True, extra="allow")  # forward compatible, as the manifest

    id: str
    key: str
    strategy: Strategy
    label: str | None = None  # the positive value, one-vs-all only
    language: str | None = None  # per-language training only
    labels: list[str]


def parse_strategy(value: str) -> Strategy:
    try:
        return Strategy(str(value).strip().lower().replace("_", "-"))
    except ValueError:
        choices = ", ".join(s.value for s in Strategy)
        raise StrategyError(f"Unknown strategy '{value}': choose one of {choices}.") from None


def auto_strategy(
    multi_valued: bool, n_values: int, threshold: int = DEFAULT_AUTO_THRESHOLD
) -> Strategy:
    """The hybrid rule: multi-valued -> one-vs-all; else few values -> multi-class."""
    if multi_valued:
        return Strategy.ONE_VS_ALL
    return Strategy.MULTI_CLASS if n_values <= threshold else Strategy.ONE_VS_ALL


def negative_label(label: str) -> str:
    """Name of the negative class of a one-vs-all model (always distinct from ``label``)."""
    return f"not_{label}"
