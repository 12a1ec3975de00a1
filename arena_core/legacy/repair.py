"""Repair of missing or inconsistent strategy fields, for legacy and native sessions.

Each key's strategy comes from the strongest evidence that names it (saved key_strategies, the
saved lists, the saved plan, then for legacy sessions the training files, the one-vs-all label
prefixes and the training approach, and for native sessions the requested strategies resolved by
the auto rule). Weaker evidence must agree: when it does not, or when labels cannot be
attributed to keys, the repair is refused with the reason and nothing is written.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from arena_core.errors import ArenaError, RepairRefused, StrategyError
from arena_core.legacy.data_files import (
    ONEVSALL_NAME,
    SPECIAL_NAMES,
    describe_unattributed,
    distribution_values,
    load_labels,
)
from arena_core.legacy.importer import session_layout
from arena_core.legacy.read import FALLBACK_SECTION, normalise_strategy
from arena_core.session.manifest import (
    STRATEGY_FIELDS,
    STRATEGY_LISTS,
    SessionManifest,
    check,
    is_complete,
    now_iso,
    strategy_fields,
)
from arena_core.session.strategy import Strategy, auto_strategy, parse_strategy, plan_with_notes
from arena_core.store.session_store import SessionStore

log = logging.getLogger(__name__)

REPAIRED_FIELDS = (*STRATEGY_FIELDS, "multilabel_keys")
MAX_LISTED = 5


@dataclass
class RepairProposal:
    """What a repair would change (or changed), why, and whether the session is then complete."""

    session: str
    inferred: dict[str, Any] = field(default_factory=dict)  # field -> new value (JSON-ready)
    evidence: dict[str, list[str]] = field(default_factory=dict)  # field -> reasons
    complete: bool = False
    refused_reason: str | None = None
    jobs: list[str] = field(default_factory=list)  # the plan after the repair
    notes: list[str] = field(default_factory=list)
    written: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Source:
    """One piece of evidence: key -> strategy, with a reason per key."""

    name: str
    strategies: dict[str, Strategy]
    reasons: dict[str, str]
    derived: bool = False  # redundant copy of key_strategies (the lists, the saved plan)


class _Refused(Exception):
    """Internal: the evidence disagrees; carries the user-facing reason."""


def _listed(items) -> str:
    items = list(items)
    return ", ".join(map(str, items[:MAX_LISTED])) + (", ..." if len(items) > MAX_LISTED else "")


# ---------------------------------------------------------------- evidence from saved fields


def _saved_sources(manifest: SessionManifest, evidence: dict[str, list[str]]) -> list[_Source]:
    keys = manifest.keys
    sources: list[_Source] = []
    if manifest.key_strategies is not None:
        found, reasons = {}, {}
        for key, strategy in manifest.key_strategies.items():
            if key not in keys:
                evidence["key_strategies"].append(f"dropped '{key}': not a key of the dataset")
                continue
            if strategy is Strategy.AUTO:
                info = keys[key]
                strategy = auto_strategy(
                    info.multi_valued, len(info.labels), manifest.auto_threshold
                )
                reasons[key] = (
                    f"saved as 'auto', resolved by the auto rule ({len(info.labels)} values, "
                    f"{'multi' if info.multi_valued else 'single'}-valued) to {strategy.value}"
                )
            else:
                reasons[key] = f"saved key_strategies says {strategy.value}"
            found[key] = strategy
        sources.append(_Source("key_strategies", found, reasons))
    lists: dict[str, Strategy] = {}
    list_reasons: dict[str, str] = {}
    for strategy, name in STRATEGY_LISTS.items():
        for key in getattr(manifest, name) or []:
            if key not in keys:
                evidence[name].append(f"dropped '{key}': not a key of the dataset")
            elif key in lists and lists[key] is not strategy:
                raise _Refused(
                    f"key '{key}' is listed both in '{STRATEGY_LISTS[lists[key]]}' and in '{name}'"
                )
            else:
                lists[key] = strategy
                list_reasons[key] = f"saved '{name}' lists it"
    if lists:
        sources.append(_Source("the saved lists", lists, list_reasons, derived=True))
    planned = {job.key: job.strategy for job in manifest.plan}
    if planned:
        reasons = {k: f"the saved plan trains it {s.value}" for k, s in planned.items()}
        sources.append(_Source("the saved plan", planned, reasons, derived=True))
    return sources


def _requested_source(manifest: SessionManifest) -> _Source | None:
    """Native sessions: the strategies the user chose, 'auto' resolved as at creation."""
    found, reasons = {}, {}
    for key, requested in manifest.requested_strategies.items():
        if key not in manifest.keys:
            continue
        try:
            strategy = parse_strategy(requested)
        except StrategyError:
            continue
        if strategy is Strategy.AUTO:
            info = manifest.keys[key]
            strategy = auto_strategy(info.multi_valued, len(info.labels), manifest.auto_threshold)
            reasons[key] = f"requested 'auto', which the auto rule resolves to {strategy.value}"
        else:
            reasons[key] = f"requested {strategy.value} when the session was created"
        found[key] = strategy
    return _Source("the requested strategies", found, reasons) if found else None


# ---------------------------------------------------------------- evidence from legacy files


class _LegacyEvidence:
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

    def sources(self) -> list[_Source]:
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
            raise _Refused(
                f"{where} names {_listed(unknown)}, which {'is' if len(unknown) == 1 else 'are'} "
                f"not among the keys ({_listed(self.keys)})"
            )
        has_onevsall = ONEVSALL_NAME in names
        rest = [k for k in self.keys if k not in multiclass]
        if rest and not (has_onevsall or self.approach is Strategy.ONE_VS_ALL):
            raise _Refused(
                f"keys {_listed(rest)} have no multi-class file in {where} and there is no "
                f"one-vs-all file ('{ONEVSALL_NAME}'), so how they were trained is unknown"
            )
        if not rest and has_onevsall:
            raise _Refused(
                f"{where} has a one-vs-all file ('{ONEVSALL_NAME}') but every key "
                f"({_listed(self.keys)}) has its own multi-class file"
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
        return [_Source(where, found, reasons)]

    def _from_approach(self) -> _Source:
        if self.approach in (Strategy.MULTI_CLASS, Strategy.ONE_VS_ALL):
            reason = f"training_approach is '{self.approach_text}' and no training file is named"
            found = dict.fromkeys(self.keys, self.approach)
            self._confirm_labels(
                [k for k in found if found[k] is Strategy.MULTI_CLASS],
                [k for k in found if found[k] is Strategy.ONE_VS_ALL],
                {},
            )
            return _Source("training_approach", found, dict.fromkeys(self.keys, reason))
        raise _Refused(
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
                raise _Refused(
                    "cannot attribute values to keys: "
                    + describe_unattributed(name, attribution.unattributed)
                )
            wrong = [k for k in attribution.outside if k in multiclass]
            if wrong and self.layout.onevsall is not None and name == self.layout.onevsall.name:
                raise _Refused(
                    f"the one-vs-all file {name} holds labels of {_listed(wrong)} "
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
            shown = _listed(info.labels) or "none"
            line = f"{key}: {shown} (from {labels.sources.get(key) or 'no file'})"
            saved = self.manifest.keys[key].labels
            if saved != info.labels:
                line += f"; the imported label set differs ({_listed(saved) or 'none'})"
            self.evidence["labels"].append(line)

    def check_approach(self, resolved: dict[str, Strategy]) -> None:
        """Rule 3: the training approach must fit the inferred strategies."""
        used = set(resolved.values())
        text = self.approach_text
        if self.hybrid:
            if not {Strategy.MULTI_CLASS, Strategy.ONE_VS_ALL} <= used:
                raise _Refused(
                    "training_approach is 'hybrid', but the evidence gives only "
                    f"{_listed(sorted(s.value for s in used))} keys"
                )
        elif self.approach in (Strategy.MULTI_CLASS, Strategy.ONE_VS_ALL):
            other = [k for k, s in resolved.items() if s is not self.approach]
            if other:
                raise _Refused(
                    f"training_approach is '{text}', but {_listed(other)} "
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


# ---------------------------------------------------------------- inference


def _combine(
    keys: list[str], sources: list[_Source], evidence: dict[str, list[str]]
) -> dict[str, Strategy]:
    resolved: dict[str, Strategy] = {}
    for key in keys:
        winner = next((s for s in sources if key in s.strategies), None)
        if winner is None:
            raise _Refused(
                f"cannot infer the strategy of key '{key}': no saved field and no data file "
                "says how it was trained"
            )
        strategy = winner.strategies[key]
        resolved[key] = strategy
        evidence["key_strategies"].append(f"{key}: {strategy.value} ({winner.reasons[key]})")
        for other in sources:
            theirs = other.strategies.get(key)
            if other is winner or theirs is None or theirs is strategy:
                continue
            if winner.name == "key_strategies" and other.derived:
                evidence["key_strategies"].append(
                    f"{key}: {other.name} said {theirs.value}; rewritten from key_strategies"
                )
                continue
            raise _Refused(
                f"the evidence disagrees on key '{key}': {winner.reasons[key]}, but "
                f"{other.reasons[key]}"
            )
    return resolved


def _json_value(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: getattr(v, "value", str(v))))


def _snapshot_present(manifest: SessionManifest, folder: Path) -> str | None:
    """Why the session cannot be relaunched for want of data files, or None."""
    missing = [
        rel
        for rel in (manifest.dataset.snapshot_file, manifest.split.file)
        if not (folder / rel).is_file()
    ]
    if not missing:
        return None
    return (
        f"{_listed(missing)} missing: the data could not be rebuilt at import "
        "(see the session notes), so the session cannot be relaunched"
    )


def infer(manifest: SessionManifest, folder: Path) -> tuple[SessionManifest | None, RepairProposal]:
    """The repaired manifest (None when refused) and the proposal describing it. No writes."""
    proposal = RepairProposal(session=manifest.id)
    evidence: dict[str, list[str]] = defaultdict(list)
    keys = list(manifest.keys)
    legacy = (
        _LegacyEvidence(manifest, folder, evidence)
        if manifest.origin == "legacy" and manifest.legacy
        else None
    )
    try:
        sources = _saved_sources(manifest, evidence)
        if legacy is not None:
            sources.extend(legacy.sources())
        else:
            requested = _requested_source(manifest)
            if requested is not None:
                sources.append(requested)
        resolved = _combine(keys, sources, evidence)
        if legacy is not None:
            legacy.check_approach(resolved)
    except _Refused as exc:
        proposal.evidence = dict(evidence)
        proposal.refused_reason = (
            f"Repair of session {manifest.id} refused: {exc}. Nothing was written; fix the "
            "legacy metadata or the data files, or create a new session from the data."
        )
        return None, proposal

    default = legacy.files(resolved) if legacy is not None else {}
    files: dict[str, str] = {}
    for key in resolved:
        saved = (manifest.files_per_key or {}).get(key)
        files[key] = saved or default.get(key) or manifest.dataset.snapshot_file
        origin = "saved" if saved else ("legacy training files" if key in default else "snapshot")
        evidence["files_per_key"].append(f"{key}: {files[key]} ({origin})")
    repaired = manifest.model_copy(deep=True)
    for name, value in strategy_fields(resolved, files).items():
        old = getattr(manifest, name)
        if _json_value(old) != _json_value(value):
            proposal.inferred[name] = _json_value(value)
        setattr(repaired, name, value)
    if set(proposal.inferred) == {"multilabel_keys"} and manifest.multilabel_keys is None:
        # Not one of the fields check requires: a complete session needs no repair for it.
        del proposal.inferred["multilabel_keys"]
        repaired.multilabel_keys = None
    try:
        repaired.plan, plan_notes = plan_with_notes(repaired)
        proposal.notes.extend(plan_notes)
    except ArenaError as exc:
        repaired.plan = []
        proposal.notes.append(str(exc))
    proposal.jobs = [job.id for job in repaired.plan]
    problems = check(repaired, folder)
    proposal.notes.extend(p.message for p in problems if p.severity == "error")
    missing_data = _snapshot_present(repaired, folder)
    if missing_data:
        proposal.notes.append(missing_data)
    proposal.complete = is_complete(problems) and missing_data is None
    proposal.evidence = {k: v for k, v in evidence.items() if v}
    return repaired, proposal


def propose(store: SessionStore, session_id: str) -> RepairProposal:
    """What ``apply`` would do (shown before the user confirms); writes nothing."""
    folder = store.existing_dir(session_id)
    return infer(store.load(session_id), folder)[1]


def apply(store: SessionStore, session_id: str) -> RepairProposal:
    """Infer and write the missing fields (atomic, previous manifest kept as the backup).

    Raises RepairRefused (nothing written) when the evidence disagrees or is ambiguous.
    """
    folder = store.existing_dir(session_id)
    preview = infer(store.load(session_id), folder)[1]
    if preview.refused_reason:
        raise RepairRefused(preview.refused_reason)
    if not preview.inferred:
        preview.notes.insert(0, "nothing to repair: the strategy fields are already there.")
        return preview
    result: dict[str, RepairProposal] = {}

    def change(manifest: SessionManifest) -> None:
        repaired, proposal = infer(manifest, folder)  # again, under the manifest lock
        if repaired is None:
            raise RepairRefused(proposal.refused_reason or "repair refused")
        record = {"at": now_iso(), "inferred": proposal.inferred, "evidence": proposal.evidence}
        if repaired.legacy is not None:
            repaired.legacy.setdefault("repairs", []).append(record)
        repaired.notes.append(
            f"repaired {record['at']}: inferred {', '.join(proposal.inferred) or 'nothing'}."
        )
        for name in (*REPAIRED_FIELDS, "plan", "notes", "legacy"):
            setattr(manifest, name, getattr(repaired, name))
        result["proposal"] = proposal

    store.update(session_id, change)
    proposal = result["proposal"]
    proposal.written = True
    log.info("repaired %s: %s", session_id, ", ".join(proposal.inferred))
    return proposal
