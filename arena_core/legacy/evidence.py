"""What a legacy session's files and metadata say about how each key was trained.

Rules 1-4 of docs/legacy-sessions.md: the training files named in the metadata, the label
prefixes of the one-vs-all file, the training approach, and the label sets of the data files.
Kept apart from ``repair``, which weighs this evidence against the saved fields, because these
rules read the imported files and are the part that knows the previous tool's layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from arena_core.legacy.data_files import (
    ONEVSALL_NAME,
    SPECIAL_NAMES,
    describe_unattributed,
    distribution_values,
)
from arena_core.legacy.importer import session_layout
from arena_core.legacy.labels import load_labels
from arena_core.legacy.read import FALLBACK_SECTION, normalise_strategy
from arena_core.session.manifest import SessionManifest
from arena_core.session.strategy import Strategy

MAX_LISTED = 5


@dataclass
class StrategySource:
    """One piece of evidence: key -> strategy, with a reason per key."""

    name: str
    strategies: dict[str, Strategy]
    reasons: dict[str, str]
    derived: bool = False  # redundant copy of key_strategies (the lists, the saved plan)


class EvidenceConflict(Exception):
    """The evidence disagrees or is ambiguous; carries the reason the repair is refused."""


def listed(items) -> str:
    """The first few ``items``, comma-separated, for a reason or a note."""
    items = list(items)
    return ", ".join(map(str, items[:MAX_LISTED])) + (", ..." if len(items) > MAX_LISTED else "")


class LegacyEvidence:
    """Rules 1-4 of docs/legacy-sessions.md applied to an imported session."""

    def __init__(self, manifest: SessionManifest, folder: Path, evidence: dict[str, list[str]]):
        self.manifest = manifest
        self.folder = folder
        self.evidence = evidence
        metadata = (manifest.legacy or {}).get("metadata") or {}
        self.dc = metadata.get("dataset_config") if isinstance(metadata, dict) else None
        self.dc = self.dc if isinstance(self.dc, dict) else {}
        self.keys = list(manifest.keys)
        self.section, self.targets, self.layout = session_layout(manifest, folder)
        raw = self.dc.get("training_approach")
        self.approach_text = str(raw) if raw else None
        self.approach = normalise_strategy(raw) if raw else None
        self.hybrid = bool(raw) and "hybrid" in str(raw).lower()

    def sources(self) -> list[StrategySource]:
        names = list(self.targets)
        where = {
            "files_per_key": "the legacy files_per_key",
            FALLBACK_SECTION: "the data file names",
        }.get(self.section or "", self.section or "the training files")
        if not names:
            return [self._from_approach()]
        multiclass = [n for n in names if n not in SPECIAL_NAMES]
        unknown = [n for n in multiclass if n not in self.keys]
        if unknown:
            raise EvidenceConflict(
                f"{where} names {listed(unknown)}, which {'is' if len(unknown) == 1 else 'are'} "
                f"not among the keys ({listed(self.keys)})"
            )
        has_onevsall = ONEVSALL_NAME in names
        rest = [k for k in self.keys if k not in multiclass]
        if rest and not (has_onevsall or self.approach is Strategy.ONE_VS_ALL):
            raise EvidenceConflict(
                f"keys {listed(rest)} have no multi-class file in {where} and there is no "
                f"one-vs-all file ('{ONEVSALL_NAME}'), so how they were trained is unknown"
            )
        if not rest and has_onevsall:
            raise EvidenceConflict(
                f"{where} has a one-vs-all file ('{ONEVSALL_NAME}') but every key "
                f"({listed(self.keys)}) has its own multi-class file"
            )
        found: dict[str, Strategy] = {}
        reasons: dict[str, str] = {}
        for key in multiclass:
            found[key] = Strategy.MULTI_CLASS
            reasons[key] = f"{where} has a multi-class file for it"
        for key in rest:
            found[key] = Strategy.ONE_VS_ALL
            reasons[key] = f"a category without a multi-class file while {where} has " + (
                f"'{ONEVSALL_NAME}'" if has_onevsall else "no one-vs-all entry"
            )
        self._confirm_labels(multiclass, rest, reasons)
        return [StrategySource(where, found, reasons)]

    def _from_approach(self) -> StrategySource:
        if self.approach in (Strategy.MULTI_CLASS, Strategy.ONE_VS_ALL):
            reason = f"training_approach is '{self.approach_text}' and no training file is named"
            found = dict.fromkeys(self.keys, self.approach)
            self._confirm_labels(
                [k for k in found if found[k] is Strategy.MULTI_CLASS],
                [k for k in found if found[k] is Strategy.ONE_VS_ALL],
                {},
            )
            return StrategySource("training_approach", found, dict.fromkeys(self.keys, reason))
        raise EvidenceConflict(
            "the metadata names no training file and its training_approach "
            f"({self.approach_text or 'none'}) does not say how each key was trained"
        )

    def _confirm_labels(
        self, multiclass: list[str], onevsall: list[str], reasons: dict[str, str]
    ) -> None:
        """Rule 2 and 4: prefixes of the one-vs-all file, label sets from the data files."""
        if not (self.layout.multiclass or self.layout.onevsall or self.layout.consolidated):
            self.evidence["labels"].append("no data file is present: labels not confirmed")
            return
        labels = load_labels(
            self.layout,
            self.keys,
            onevsall,
            distribution_values(self.dc.get("category_distribution"), self.keys),
        )
        for name, attribution in labels.attributions.items():
            if name not in labels.sources.values():
                continue
            if attribution.unattributed:
                raise EvidenceConflict(
                    "cannot attribute values to keys: "
                    + describe_unattributed(name, attribution.unattributed)
                )
            wrong = [k for k in attribution.outside if k in multiclass]
            if wrong and self.layout.onevsall is not None and name == self.layout.onevsall.name:
                raise EvidenceConflict(
                    f"the one-vs-all file {name} holds labels of {listed(wrong)} "
                    f"('{wrong[0]}_...'), which the training files train as multi-class"
                )
        onevsall_file = self.layout.onevsall
        for key in onevsall:
            source = labels.sources.get(key)
            attribution = labels.attributions.get(source) if source else None
            if attribution is None:
                note = "no data file holds its labels: not confirmed"
            elif attribution.prefixes.get(key):
                note = f"confirmed by {attribution.prefixes[key]} '{key}_' labels in {source}"
            elif attribution.bare.get(key):
                note = f"{attribution.bare[key]} bare values in {source} attributed to it"
            else:
                note = f"no label of '{key}' in {source}: not confirmed"
            if onevsall_file is None and ONEVSALL_NAME in self.targets:
                note += " (the one-vs-all file is missing on disk)"
            reasons[key] = f"{reasons.get(key, 'one-vs-all')}; {note}"
        for key in self.keys:
            info = labels.keys.get(key)
            if info is None:
                continue
            shown = listed(info.labels) or "none"
            line = f"{key}: {shown} (from {labels.sources.get(key) or 'no file'})"
            saved = self.manifest.keys[key].labels
            if saved != info.labels:
                line += f"; the imported label set differs ({listed(saved) or 'none'})"
            self.evidence["labels"].append(line)

    def check_approach(self, resolved: dict[str, Strategy]) -> None:
        """Rule 3: the training approach must fit the inferred strategies."""
        used = set(resolved.values())
        text = self.approach_text
        if self.hybrid:
            if not {Strategy.MULTI_CLASS, Strategy.ONE_VS_ALL} <= used:
                raise EvidenceConflict(
                    "training_approach is 'hybrid', but the evidence gives only "
                    f"{listed(sorted(s.value for s in used))} keys"
                )
        elif self.approach in (Strategy.MULTI_CLASS, Strategy.ONE_VS_ALL):
            other = [k for k, s in resolved.items() if s is not self.approach]
            if other:
                raise EvidenceConflict(
                    f"training_approach is '{text}', but {listed(other)} "
                    f"{'is' if len(other) == 1 else 'are'} not {self.approach.value} by the "
                    "other evidence"
                )
        else:
            self.evidence["key_strategies"].append(
                f"training_approach '{text or 'none'}' sets no constraint"
            )
            return
        self.evidence["key_strategies"].append(f"training_approach '{text}' agrees")

    def files(self, resolved: dict[str, Strategy]) -> dict[str, str]:
        """Legacy data file of each key: its multi-class file, else the one-vs-all file."""
        onevsall = self.targets.get(ONEVSALL_NAME) or self.targets.get("multilabel")
        files = {}
        for key, strategy in resolved.items():
            target = self.targets.get(key) if strategy is Strategy.MULTI_CLASS else onevsall
            if target is not None:
                files[key] = target
        return files
