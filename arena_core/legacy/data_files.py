"""Data files of a legacy session (JSON lines) -> records -> labels attributed to keys.

The previous tool wrote one file per multi-class key, one file for all one-vs-all keys and one
consolidated file, with label names ``<key>_<value>`` (sometimes bare values). This module reads
them and attributes every label to a key (or says why it cannot); ``labels`` merges the files
into the normalised snapshot table the trainer reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ONEVSALL_NAME = "onevsall_multilabel"  # training_files entry of the one-vs-all file
CONSOLIDATED_NAME = "multilabel"  # training_files entry of the consolidated file
SPECIAL_NAMES = (ONEVSALL_NAME, CONSOLIDATED_NAME)
MAX_LISTED = 5


@dataclass
class Record:
    text: str
    labels: list[str]
    id: str | None = None
    lang: str | None = None


@dataclass
class DataFile:
    """One legacy data file as read; ``name`` is how reports refer to it."""

    path: Path
    records: list[Record]
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class LegacyLayout:
    """Which resolved file plays which role (None: absent or not found)."""

    multiclass: dict[str, Path] = field(default_factory=dict)  # key -> its file
    onevsall: Path | None = None
    consolidated: Path | None = None


@dataclass
class Attribution:
    """Labels of one file split into key -> values, per record, plus what could not be."""

    values: list[dict[str, list[str]]]
    prefixes: dict[str, int] = field(default_factory=dict)  # key -> labels with '<key>_'
    bare: dict[str, int] = field(default_factory=dict)  # key -> bare labels attributed to it
    outside: dict[str, int] = field(default_factory=dict)  # prefixed keys outside candidates
    unattributed: dict[str, list[str]] = field(default_factory=dict)  # label -> possible keys


# ---------------------------------------------------------------- reading


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _labels(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value]
    labels: list[str] = []
    for item in items:
        label = _text(item)
        if label is not None and label not in labels:
            labels.append(label)
    return labels


def read_records(path: Path) -> DataFile:
    """Read a JSON-lines (or JSON array) data file; malformed lines are skipped with a warning."""
    raw = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    warnings: list[str] = []
    objects: list[tuple[int, Any]] = []
    stripped = raw.lstrip()
    if stripped.startswith("["):
        try:
            objects = list(enumerate(json.loads(stripped), start=1))
        except ValueError as exc:
            warnings.append(f"{path.name}: not valid JSON ({exc}); no record read.")
    else:
        bad: list[int] = []
        for number, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                objects.append((number, json.loads(line)))
            except ValueError:
                bad.append(number)
        if bad:
            shown = ", ".join(map(str, bad[:MAX_LISTED])) + (", ..." if len(bad) > 5 else "")
            warnings.append(f"{path.name}: skipped {len(bad)} malformed line(s) ({shown}).")
    records: list[Record] = []
    no_text = 0
    for _, obj in objects:
        if not isinstance(obj, dict):
            no_text += 1
            continue
        text = _text(obj.get("text"))
        if text is None:
            no_text += 1
            continue
        labels = obj.get("labels", obj.get("label"))
        lang = _text(obj.get("lang", obj.get("language")))
        records.append(
            Record(
                text=text,
                labels=_labels(labels),
                id=_text(obj.get("id")),
                lang=lang.upper() if lang else None,
            )
        )
    if no_text:
        warnings.append(f"{path.name}: skipped {no_text} record(s) without a text.")
    return DataFile(Path(path), records, warnings)


# ---------------------------------------------------------------- attribution


def prefix_key(label: str, keys: list[str]) -> str | None:
    """The longest key ``k`` such that ``label`` is ``k_<value>``."""
    matches = [k for k in keys if label.startswith(k + "_") and len(label) > len(k) + 1]
    return max(matches, key=len) if matches else None


def attribute_single_key(file: DataFile, key: str) -> Attribution:
    """A multi-class file of one key: every label is that key's (prefix stripped when present)."""
    result = Attribution(values=[])
    for record in file.records:
        values = []
        for label in record.labels:
            if label.startswith(key + "_") and len(label) > len(key) + 1:
                result.prefixes[key] = result.prefixes.get(key, 0) + 1
                value = label[len(key) + 1 :]
            else:
                result.bare[key] = result.bare.get(key, 0) + 1
                value = label
            if value not in values:
                values.append(value)
        result.values.append({key: values})
    return result


def attribute_labels(
    file: DataFile,
    keys: list[str],
    candidates: list[str],
    value_sets: dict[str, set[str]],
) -> Attribution:
    """Split the labels of a file holding several keys; never picks between two possible keys.

    ``<key>_value`` goes to ``key`` (counted in ``outside`` when ``key`` is not a candidate).
    A bare value goes to the only candidate, or to the only candidate whose known values hold
    it; otherwise it is listed in ``unattributed`` with the keys it could belong to.
    """
    result = Attribution(values=[])
    for record in file.records:
        per_key: dict[str, list[str]] = {}
        for label in record.labels:
            key = prefix_key(label, keys)
            if key is not None:
                value = label[len(key) + 1 :]
                counter = result.prefixes if key in candidates else result.outside
                counter[key] = counter.get(key, 0) + 1
            else:
                value = label
                owners = (
                    list(candidates)
                    if len(candidates) == 1
                    else [k for k in candidates if label in value_sets.get(k, ())]
                )
                if len(owners) != 1:
                    result.unattributed.setdefault(label, owners)
                    continue
                key = owners[0]
                result.bare[key] = result.bare.get(key, 0) + 1
            values = per_key.setdefault(key, [])
            if value not in values:
                values.append(value)
        result.values.append(per_key)
    return result


def describe_unattributed(file_name: str, unattributed: dict[str, list[str]]) -> str:
    """One sentence naming the labels that cannot be attributed and why."""
    parts = []
    for label, owners in list(sorted(unattributed.items()))[:MAX_LISTED]:
        if owners:
            parts.append(f"'{label}' could belong to {' or '.join(repr(k) for k in owners)}")
        else:
            parts.append(f"'{label}' has no '<key>_' prefix and no known key holds this value")
    more = ", ..." if len(unattributed) > MAX_LISTED else ""
    return (
        f"{file_name}: {len(unattributed)} label name(s) cannot be attributed to a key ("
        + "; ".join(parts)
        + more
        + ")"
    )


def distribution_values(distribution: Any, keys: list[str]) -> dict[str, set[str]]:
    """Values per key from ``category_distribution`` (key -> {value: n} / [values] / flat)."""
    found: dict[str, set[str]] = {}
    if not isinstance(distribution, dict):
        return found
    for name, inner in distribution.items():
        name = str(name)
        if name in keys and isinstance(inner, dict | list):
            values = inner.keys() if isinstance(inner, dict) else inner
            for value in values:
                value = str(value)
                if value.startswith(name + "_") and len(value) > len(name) + 1:
                    value = value[len(name) + 1 :]
                found.setdefault(name, set()).add(value)
        else:
            key = prefix_key(name, keys)
            if key is not None:
                found.setdefault(key, set()).add(name[len(key) + 1 :])
    return found
