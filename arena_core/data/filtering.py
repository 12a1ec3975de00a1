"""Rare-label filtering: which labels have enough examples to be trained, overall and per language.

A pure function of the normalised dataset: the table is never modified. The plan uses the kept
labels; the trainer ignores dropped values. Every drop is recorded with (some of) its rows so the
user can see what was left out and why.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from arena_core.data.dataset import LANGUAGE, ROW, NormalisedDataset, label_column
from arena_core.errors import DatasetError
from arena_core.session.manifest import DroppedLabel, KeyInfo

MAX_ROWS_LISTED = 50


@dataclass
class FilterResult:
    keys: dict[str, KeyInfo]
    dropped: list[DroppedLabel] = field(default_factory=list)


def apply_min_examples(
    ds: NormalisedDataset, min_examples: int, per_language: bool
) -> FilterResult:
    """Drop labels with fewer than ``min_examples`` rows (and, per language, in that language)."""
    if min_examples < 1:
        raise DatasetError(
            f"The minimum number of examples must be at least 1, not {min_examples}."
        )
    rows = ds.table[ROW].tolist()
    langs = ds.table[LANGUAGE].tolist()
    languages = sorted({lang for lang in langs if lang is not None})
    keys: dict[str, KeyInfo] = {}
    dropped: list[DroppedLabel] = []
    for key, stats in ds.keys.items():
        label_rows: dict[str, list[int]] = defaultdict(list)
        lang_rows: dict[tuple[str, str], list[int]] = defaultdict(list)
        for row, lang, labels in zip(
            rows, langs, ds.table[label_column(key)].tolist(), strict=True
        ):
            for label in labels:
                label_rows[label].append(row)
                if per_language and lang is not None:
                    lang_rows[(lang, label)].append(row)
        counts = Counter({label: len(r) for label, r in label_rows.items()})
        kept = sorted(label for label, n in counts.items() if n >= min_examples)
        for label in sorted(set(counts) - set(kept)):
            dropped.append(
                DroppedLabel(
                    key=key,
                    label=label,
                    count=counts[label],
                    rows=label_rows[label][:MAX_ROWS_LISTED],
                )
            )
        by_language: dict[str, list[str]] = {}
        if per_language:
            for lang in languages:
                by_language[lang] = []
                for label in kept:
                    hits = lang_rows.get((lang, label), [])
                    if len(hits) >= min_examples:
                        by_language[lang].append(label)
                    elif hits:
                        dropped.append(
                            DroppedLabel(
                                key=key,
                                label=label,
                                count=len(hits),
                                language=lang,
                                rows=hits[:MAX_ROWS_LISTED],
                            )
                        )
        keys[key] = KeyInfo(
            labels=kept,
            counts=dict(stats.counts),
            multi_valued=stats.multi_valued,
            empty_rows=stats.empty_rows,
            labels_by_language=by_language,
        )
    return FilterResult(keys=keys, dropped=dropped)
