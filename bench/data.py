"""Generated benchmark data: English-like texts with a long-tailed length distribution.

Text lengths (in words) are drawn from a three-part mixture, so most texts are short and a
few are long, as in reviews, survey answers or social posts:

    85 %  10-40 words    (uniform)
    12 %  41-120 words   (uniform)
     3 %  121-300 words  (uniform)

With MiniLM's WordPiece tokenizer a word is about 1.2-1.3 tokens, so at max_length 128 roughly
the texts above ~100 words are truncated. Labels are signalled by 2-4 topic words placed among
filler words (one of them within the first 30 words, so truncation never hides every signal).
Keys: ``category`` (3 values, one per row, multi-class) and ``topics`` (6 values, 1-2 per row,
one-vs-all).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd

LENGTH_MIXTURE = ((0.85, 10, 40), (0.12, 41, 120), (0.03, 121, 300))

CATEGORIES = {
    "complaint": ["broken", "refund", "late", "disappointed", "faulty", "never", "worst", "rude"],
    "praise": ["excellent", "wonderful", "perfect", "recommend", "delighted", "superb", "love"],
    "question": ["how", "when", "whether", "anyone", "explain", "wondering", "possible", "why"],
}
TOPICS = {
    "delivery": ["parcel", "courier", "shipping", "tracking", "arrived", "package"],
    "billing": ["invoice", "charge", "payment", "card", "price", "subscription"],
    "product": ["device", "battery", "screen", "material", "size", "model"],
    "support": ["agent", "helpline", "ticket", "chat", "answer", "staff"],
    "website": ["login", "page", "password", "account", "browser", "app"],
    "returns": ["return", "exchange", "label", "warehouse", "replacement", "policy"],
}
FILLER = (  # noqa: SIM905 - a word list reads better as prose
    "the a an and or but so because then also very really quite just still even about after "
    "before during while this that these those it they we you i he she my our your their "
    "was were is are be been have has had do did does can could would should will may might "
    "get got make made take took give gave see saw look looked find found think thought "
    "know knew want wanted need needed try tried use used work worked call called ask asked "
    "day week month year time morning evening today yesterday tomorrow weekend moment hour "
    "home office store shop town city street place room table door window car train bus "
    "people person friend family team company customer manager colleague neighbour child "
    "good new first last long great little own other old right big high different small "
    "large next early young important few public bad same able sure clear whole free full "
    "thing way part case point group number fact problem question service order item note "
    "again never always often sometimes usually already soon later here there now once "
    "with without from into onto over under between through across around near along "
    "some any many much more most less least every each both either neither several"
).split()


def word_counts(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` text lengths in words drawn from LENGTH_MIXTURE."""
    weights = np.array([w for w, _, _ in LENGTH_MIXTURE])
    parts = rng.choice(len(LENGTH_MIXTURE), size=n, p=weights / weights.sum())
    counts = np.empty(n, dtype=np.int64)
    for i, (_, low, high) in enumerate(LENGTH_MIXTURE):
        mask = parts == i
        counts[mask] = rng.integers(low, high + 1, size=int(mask.sum()))
    return counts


def _text(rng: np.random.Generator, length: int, signals: list[str]) -> str:
    words = list(rng.choice(FILLER, size=length))
    first = int(rng.integers(0, min(length, 30)))
    words[first] = signals[0]
    for word in signals[1:]:
        words[int(rng.integers(0, length))] = word
    return " ".join(words).capitalize() + "."


def make_frame(n: int, keys: tuple[str, ...] = ("category",), seed: int = 0) -> pd.DataFrame:
    """``n`` rows: ``text`` and ``annotation`` (JSON object with the requested keys)."""
    rng = np.random.default_rng(seed)
    lengths = word_counts(n, rng)
    category_names, topic_names = list(CATEGORIES), list(TOPICS)
    rows = []
    for i in range(n):
        category = category_names[i % len(category_names)]
        topics = sorted(
            {topic_names[int(rng.integers(0, 6))] for _ in range(int(rng.integers(1, 3)))}
        )
        signals = list(rng.choice(CATEGORIES[category], size=int(rng.integers(2, 5))))
        for topic in topics:
            signals += list(rng.choice(TOPICS[topic], size=2))
        rng.shuffle(signals)
        annotation: dict[str, Any] = {}
        if "category" in keys:
            annotation["category"] = category
        if "topics" in keys:
            annotation["topics"] = topics
        for key in keys:  # binary keys "is_<topic>": one binary job, same rows as one-vs-all
            if key.startswith("is_"):
                annotation[key] = "yes" if key[3:] in topics else "no"
        rows.append(
            {
                "text": _text(rng, int(lengths[i]), [str(s) for s in signals]),
                "annotation": json.dumps(annotation),
            }
        )
    return pd.DataFrame(rows)


def length_summary(texts: list[str], tokenizer=None, max_length: int = 128) -> dict[str, Any]:
    """Percentiles of the word counts (and token counts when a tokenizer is given)."""
    words = np.array([len(t.split()) for t in texts])
    summary: dict[str, Any] = {
        "n": len(texts),
        "words_p50": int(np.percentile(words, 50)),
        "words_p90": int(np.percentile(words, 90)),
        "words_p99": int(np.percentile(words, 99)),
        "words_max": int(words.max()),
        "share_10_40_words": round(float(((words >= 10) & (words <= 40)).mean()), 3),
    }
    if tokenizer is not None:
        tokens = np.array([len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]])
        summary["tokens_p50"] = int(np.percentile(tokens, 50))
        summary["tokens_p90"] = int(np.percentile(tokens, 90))
        summary[f"share_truncated_at_{max_length}"] = round(float((tokens > max_length).mean()), 3)
    return summary


def prepared_session(
    n: int,
    keys: tuple[str, ...],
    training,
    strategies: dict[str, str] | None = None,
    val_ratio: float = 0.2,
    seed: int = 0,
    name: str = "bench",
):
    """A checked, unwritten session (``arena_core.session.create.PreparedSession``) on generated data."""
    from arena_core.data.dataset import normalise
    from arena_core.session.create import SessionSettings, prepare
    from arena_core.session.manifest import DatasetOptions, SplitSettings

    frame = make_frame(n, keys, seed)
    options = DatasetOptions(layout="annotation-json", text_col="text", annotation_col="annotation")
    dataset = normalise(frame, options, source_name=f"{name}.csv")
    settings = SessionSettings(
        strategies=dict(strategies or {}),
        min_examples=2,
        split=SplitSettings(val_ratio=val_ratio, test_ratio=0.0, seed=7),
        training=training,
        name=name,
    )
    digest = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
    return prepare(dataset, settings, digest)


def create_session(store, n: int, keys: tuple[str, ...], training, **kwargs) -> str:
    """Write a generated session into ``store``; returns its id (status 'ready')."""
    from arena_core.session.create import create_session as create

    return create(store, prepared_session(n, keys, training, **kwargs)).id
