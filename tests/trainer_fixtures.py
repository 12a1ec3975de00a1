"""A normalised dataset built in code for trainer tests (no files, no downloads).

Keys: ``sentiment`` (one value per row: positive/negative/neutral, signalled by words in the
text) and ``themes`` (0-3 values among price/service/quality, also signalled by words).
Languages EN and FR.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from arena_core.session.manifest import TrainingConfig

SENTIMENTS = ["positive", "negative", "neutral"]
THEMES = ["price", "service", "quality"]
WORDS = {
    "EN": {
        "positive": ["great", "wonderful", "excellent", "loved", "happy"],
        "negative": ["terrible", "awful", "bad", "hated", "angry"],
        "neutral": ["okay", "average", "fine", "ordinary", "usual"],
        "price": ["price", "cost", "cheap", "expensive"],
        "service": ["staff", "service", "waiter", "help"],
        "quality": ["quality", "material", "build", "sturdy"],
        "filler": ["the", "it", "was", "and", "really", "we", "this", "visit", "today", "shop"],
    },
    "FR": {
        "positive": ["super", "magnifique", "excellent", "adore", "content"],
        "negative": ["horrible", "affreux", "mauvais", "deteste", "fache"],
        "neutral": ["correct", "moyen", "passable", "ordinaire", "habituel"],
        "price": ["prix", "cout", "bon-marche", "cher"],
        "service": ["personnel", "service", "serveur", "aide"],
        "quality": ["qualite", "matiere", "fabrication", "solide"],
        "filler": ["le", "la", "etait", "et", "vraiment", "nous", "ce", "visite", "magasin"],
    },
}


def make_table(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Rows with columns row, text, language, id, labels::sentiment, labels::themes."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        language = "EN" if i % 3 else "FR"
        words = WORDS[language]
        sentiment = SENTIMENTS[i % 3] if rng.random() < 0.9 else str(rng.choice(SENTIMENTS))
        themes = [t for t in THEMES if rng.random() < 0.4]
        tokens = list(rng.choice(words["filler"], size=int(rng.integers(3, 20))))
        tokens += list(rng.choice(words[sentiment], size=2))
        for theme in themes:
            tokens.append(str(rng.choice(words[theme])))
        rng.shuffle(tokens)
        rows.append(
            {
                "row": i,
                "text": " ".join(str(t) for t in tokens),
                "language": language,
                "id": f"doc-{i}",
                "labels::sentiment": [sentiment],
                "labels::themes": themes,
            }
        )
    return pd.DataFrame(rows)


def make_split(table: pd.DataFrame, seed: int = 0) -> pd.Series:
    """60/20/20 train/validation/test, deterministic, indexed like the table."""
    order = np.random.default_rng(seed).permutation(len(table))
    n_val = n_test = len(table) // 5
    assignment = np.array(["train"] * len(table), dtype=object)
    assignment[order[:n_val]] = "validation"
    assignment[order[n_val : n_val + n_test]] = "test"
    return pd.Series(assignment, index=table.index)


def tiny_config(**overrides) -> TrainingConfig:
    """A configuration that trains the tiny model in seconds."""
    values = {
        "model": "tiny",
        "epochs": 2,
        "batch_size": 16,
        "eval_batch_size": 64,
        "learning_rate": 1e-3,
        "max_length": 64,
        "logging_steps": 2,
        "seed": 7,
        **overrides,
    }
    return TrainingConfig(**values)
