"""Small datasets built in code for the core tests (no files needed unless asked)."""

from __future__ import annotations

import json
import random

import pandas as pd

from arena_core.data.dataset import normalise
from arena_core.session.create import SessionSettings
from arena_core.session.manifest import DatasetOptions, SplitSettings, TrainingConfig

SENTIMENTS = ["positive", "negative", "neutral"]
THEMES = ["economy", "health", "environment"]


def annotated_frame(n: int = 60, seed: int = 0, languages=("EN", "FR")) -> pd.DataFrame:
    """text + lang + JSON annotation with sentiment (one value) and themes (0-2 values)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        sentiment = SENTIMENTS[i % 3]
        themes = sorted({THEMES[i % 3], THEMES[(i + 1) % 3]} if i % 4 else {THEMES[i % 3]})
        rows.append(
            {
                "text": f"text {i} {sentiment} about {' and '.join(themes)} {rng.random():.3f}",
                "lang": languages[i % len(languages)],
                "annotation": json.dumps({"sentiment": sentiment, "themes": themes}),
            }
        )
    return pd.DataFrame(rows)


def annotation_options(**overrides) -> DatasetOptions:
    values = {"text_col": "text", "annotation_col": "annotation", "lang_col": "lang"}
    values.update(overrides)
    return DatasetOptions(layout="annotation-json", **values)


def dataset_of(frame: pd.DataFrame, **option_overrides):
    return normalise(frame, annotation_options(**option_overrides), source_name="data.csv")


def settings(strategies=None, per_language=False, min_examples=2, **training) -> SessionSettings:
    return SessionSettings(
        strategies=dict(strategies or {}),
        per_language=per_language,
        min_examples=min_examples,
        split=SplitSettings(val_ratio=0.25, seed=7),
        training=TrainingConfig(model="tiny", epochs=1, **training),
    )
