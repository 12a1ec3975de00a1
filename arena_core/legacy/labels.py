"""Legacy data files -> key label sets and, when every label has one key, the normalised table.

Apart from ``data_files`` (reading one file and attributing its labels) because this is the
merge across files: which file speaks for which key, which records of different files are the
same row, and when no table may be built. It never guesses: a label that could belong to two
keys is reported, and no table is built then.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from arena_core.data.dataset import ID, LANGUAGE, ROW, TEXT, label_column
from arena_core.legacy.data_files import (
    Attribution,
    DataFile,
    LegacyLayout,
    Record,
    attribute_labels,
    attribute_single_key,
    describe_unattributed,
    read_records,
)
from arena_core.session.manifest import KeyInfo


@dataclass
class LegacyLabels:
    """Everything the data files say about keys; ``table`` is None when it cannot be built."""

    table: pd.DataFrame | None
    keys: dict[str, KeyInfo]
    languages: dict[str, int]
    problems: list[str]  # why the table was not built
    warnings: list[str]
    files: dict[str, DataFile]  # file name -> file
    attributions: dict[str, Attribution]  # file name -> attribution
    sources: dict[str, str | None]  # key -> name of the file its labels come from


def load_labels(
    layout: LegacyLayout,
    keys: list[str],
    onevsall_candidates: list[str] | None = None,
    value_sets: dict[str, set[str]] | None = None,
) -> LegacyLabels:
    """Read the files of ``layout`` and build key label sets and (when possible) the table.

    The labels of a key come from its multi-class file, else the one-vs-all file (when the key
    is one of its candidates), else the consolidated file. ``onevsall_candidates`` defaults to
    the keys without a multi-class file.
    """
    files, warnings = _read_files(layout)
    attributions, sources = _attribute_files(layout, files, keys, onevsall_candidates, value_sets)
    problems, blocked = _unusable_keys(keys, attributions, sources)
    rows, positions = _merge_records(list(files.values()))
    languages = [r.lang for r in rows]
    columns = {
        key: _values_of_key(
            key, len(rows), None if key in blocked else sources[key], positions, attributions
        )
        for key in keys
    }
    infos = {
        key: KeyInfo(labels=[]) if key in blocked else _key_info(columns[key], languages)
        for key in keys
    }
    table = None
    if not rows:
        problems.append("the data files hold no record with a text")
    elif not problems:
        table = _table(rows, languages, columns)
    return LegacyLabels(
        table=table,
        keys=infos,
        languages=dict(sorted(Counter(x for x in languages if x).items())),
        problems=problems,
        warnings=warnings,
        files=files,
        attributions=attributions,
        sources=sources,
    )


def _read_files(layout: LegacyLayout) -> tuple[dict[str, DataFile], list[str]]:
    """Each file of ``layout`` read once (consolidated first), by name, plus reading warnings."""
    files: dict[str, DataFile] = {}
    warnings: list[str] = []
    for path in [layout.consolidated, *layout.multiclass.values(), layout.onevsall]:
        if path is None or path.name in files:
            continue
        data = read_records(path)
        files[data.name] = data
        warnings.extend(data.warnings)
    return files, warnings


def _attribute_files(
    layout: LegacyLayout,
    files: dict[str, DataFile],
    keys: list[str],
    onevsall_candidates: list[str] | None,
    value_sets: dict[str, set[str]] | None,
) -> tuple[dict[str, Attribution], dict[str, str | None]]:
    """Each file's labels split into keys, and key -> the file its labels come from (or None).

    Multi-class files go first: their values tell the bare labels of the shared files apart.
    """
    known = {k: set(v) for k, v in (value_sets or {}).items()}
    attributions: dict[str, Attribution] = {}
    sources: dict[str, str | None] = {}
    for key, path in layout.multiclass.items():
        if key not in keys:
            continue
        attribution = attribute_single_key(files[path.name], key)
        attributions[path.name] = attribution
        sources[key] = path.name
        for per_key in attribution.values:
            known.setdefault(key, set()).update(per_key[key])
    if onevsall_candidates is None:
        onevsall_candidates = [k for k in keys if k not in layout.multiclass]
    if layout.onevsall is not None:
        name = layout.onevsall.name
        attributions[name] = attribute_labels(files[name], keys, onevsall_candidates, known)
        for key in onevsall_candidates:
            sources.setdefault(key, name)
    if layout.consolidated is not None:
        name = layout.consolidated.name
        attributions.setdefault(name, attribute_labels(files[name], keys, keys, known))
        for key in keys:
            sources.setdefault(key, name)
    for key in keys:
        sources.setdefault(key, None)
    return attributions, sources


def _unusable_keys(
    keys: list[str], attributions: dict[str, Attribution], sources: dict[str, str | None]
) -> tuple[list[str], set[str]]:
    """The problems that stop the table, and the keys whose labels are unsure because of them.

    An unattributed label blocks the keys it could belong to, or, when no key could hold it,
    every key its file speaks for.
    """
    problems: list[str] = []
    blocked: set[str] = set()
    for name in sorted(set(sources.values()) - {None}):
        attribution = attributions[name]
        if attribution.unattributed:
            problems.append(describe_unattributed(name, attribution.unattributed))
            for owners in attribution.unattributed.values():
                served = [k for k, src in sources.items() if src == name]
                blocked.update(owners or served)
    problems.extend(
        f"no data file holds the labels of key '{key}'" for key in keys if sources[key] is None
    )
    return problems, blocked


def _identities(file: DataFile, use_ids: bool) -> list[tuple[str, int]]:
    """Record identity across files: id (or text) plus its occurrence number in the file."""
    seen: Counter[str] = Counter()
    identities = []
    for record in file.records:
        base = f"id:{record.id}" if use_ids else f"text:{record.text}"
        identities.append((base, seen[base]))
        seen[base] += 1
    return identities


def _merge_records(files: list[DataFile]) -> tuple[list[Record], dict[str, list[int]]]:
    """One row per distinct record of all files, and file name -> the row of each record.

    Records are the same row when their ids match (texts when some record has no id); the
    first file with a language gives the row its language.
    """
    use_ids = bool(files) and all(r.id for f in files for r in f.records)
    index: dict[tuple[str, int], int] = {}
    rows: list[Record] = []
    positions: dict[str, list[int]] = {}
    for data in files:
        where = []
        for identity, record in zip(_identities(data, use_ids), data.records, strict=True):
            if identity not in index:
                index[identity] = len(rows)
                rows.append(Record(record.text, [], record.id, record.lang))
            elif rows[index[identity]].lang is None:
                rows[index[identity]].lang = record.lang
            where.append(index[identity])
        positions[data.name] = where
    return rows, positions


def _values_of_key(
    key: str,
    n_rows: int,
    source: str | None,
    positions: dict[str, list[int]],
    attributions: dict[str, Attribution],
) -> list[list[str]]:
    """The labels of ``key`` per merged row, from the file ``source`` (None: no labels)."""
    values: list[list[str]] = [[] for _ in range(n_rows)]
    if source is not None:
        for row, per_key in zip(positions[source], attributions[source].values, strict=True):
            for value in per_key.get(key, []):
                if value not in values[row]:
                    values[row].append(value)
    return values


def _key_info(values: list[list[str]], languages: list[str | None]) -> KeyInfo:
    """What the manifest records of one key: its labels, counts and labels per language."""
    counts = Counter(v for labels in values for v in labels)
    by_language: dict[str, set[str]] = {}
    for labels, language in zip(values, languages, strict=True):
        if language is not None:
            by_language.setdefault(language, set()).update(labels)
    return KeyInfo(
        labels=sorted(counts),
        counts=dict(sorted(counts.items())),
        multi_valued=any(len(v) > 1 for v in values),
        empty_rows=sum(1 for v in values if not v),
        labels_by_language={
            lang: sorted(vals) for lang, vals in sorted(by_language.items()) if vals
        },
    )


def _table(
    rows: list[Record], languages: list[str | None], columns: dict[str, list[list[str]]]
) -> pd.DataFrame:
    """The normalised snapshot table (see ``arena_core.data.dataset``) of the merged rows."""
    return pd.DataFrame(
        {
            ROW: pd.Series(range(len(rows)), dtype="int64"),
            TEXT: pd.Series([r.text for r in rows], dtype=object),
            LANGUAGE: pd.Series(languages, dtype=object),
            ID: pd.Series([r.id for r in rows], dtype=object),
            **{label_column(k): pd.Series(v, dtype=object) for k, v in columns.items()},
        }
    )
