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
from arena_core.legacy.evidence import EvidenceConflict, LegacyEvidence, StrategySource, listed
from arena_core.session.check import check, is_complete
from arena_core.session.manifest import (
    STRATEGY_FIELDS,
    STRATEGY_LISTS,
    SessionManifest,
    now_iso,
    strategy_fields,
)
from arena_core.session.plan import plan_with_notes
from arena_core.session.strategy import Strategy, auto_strategy, parse_strategy
from arena_core.store.session_store import SessionStore

log = logging.getLogger(__name__)

REPAIRED_FIELDS = (*STRATEGY_FIELDS, "multilabel_keys")


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


# ---------------------------------------------------------------- evidence from saved fields


def _saved_sources(
    manifest: SessionManifest, evidence: dict[str, list[str]]
) -> list[StrategySource]:
    """Evidence from the saved fields, strongest first: key_strategies, the lists, the plan."""
    keys = manifest.keys
    sources: list[StrategySource] = []
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
        sources.append(StrategySource("key_strategies", found, reasons))
    lists: dict[str, Strategy] = {}
    list_reasons: dict[str, str] = {}
    for strategy, name in STRATEGY_LISTS.items():
        for key in getattr(manifest, name) or []:
            if key not in keys:
                evidence[name].append(f"dropped '{key}': not a key of the dataset")
            elif key in lists and lists[key] is not strategy:
                raise EvidenceConflict(
                    f"key '{key}' is listed both in '{STRATEGY_LISTS[lists[key]]}' and in '{name}'"
                )
            else:
                lists[key] = strategy
                list_reasons[key] = f"saved '{name}' lists it"
    if lists:
        sources.append(StrategySource("the saved lists", lists, list_reasons, derived=True))
    planned = {job.key: job.strategy for job in manifest.plan}
    if planned:
        reasons = {k: f"the saved plan trains it {s.value}" for k, s in planned.items()}
        sources.append(StrategySource("the saved plan", planned, reasons, derived=True))
    return sources


def _requested_source(manifest: SessionManifest) -> StrategySource | None:
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
    return StrategySource("the requested strategies", found, reasons) if found else None


# ---------------------------------------------------------------- inference


def _combine(
    keys: list[str], sources: list[StrategySource], evidence: dict[str, list[str]]
) -> dict[str, Strategy]:
    resolved: dict[str, Strategy] = {}
    for key in keys:
        winner = next((s for s in sources if key in s.strategies), None)
        if winner is None:
            raise EvidenceConflict(
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
            raise EvidenceConflict(
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
        f"{listed(missing)} missing: the data could not be rebuilt at import "
        "(see the session notes), so the session cannot be relaunched"
    )


def infer(manifest: SessionManifest, folder: Path) -> tuple[SessionManifest | None, RepairProposal]:
    """The repaired manifest (None when refused) and the proposal describing it. No writes."""
    proposal = RepairProposal(session=manifest.id)
    evidence: dict[str, list[str]] = defaultdict(list)
    try:
        resolved, legacy_files = _resolve_strategies(manifest, folder, evidence)
    except EvidenceConflict as exc:
        proposal.evidence = dict(evidence)
        proposal.refused_reason = (
            f"Repair of session {manifest.id} refused: {exc}. Nothing was written; fix the "
            "legacy metadata or the data files, or create a new session from the data."
        )
        return None, proposal
    files = _files_per_key(manifest, resolved, legacy_files, evidence)
    repaired = _with_strategy_fields(manifest, resolved, files, proposal)
    _plan_and_check(repaired, folder, proposal)
    proposal.evidence = {k: v for k, v in evidence.items() if v}
    return repaired, proposal


def _resolve_strategies(
    manifest: SessionManifest, folder: Path, evidence: dict[str, list[str]]
) -> tuple[dict[str, Strategy], dict[str, str]]:
    """Each key's strategy from the strongest evidence, and for a legacy session the data file
    each key was trained from. Raises EvidenceConflict when the evidence disagrees."""
    legacy = (
        LegacyEvidence(manifest, folder, evidence)
        if manifest.origin == "legacy" and manifest.legacy
        else None
    )
    sources = _saved_sources(manifest, evidence)
    if legacy is not None:
        sources.extend(legacy.sources())
    else:
        requested = _requested_source(manifest)
        if requested is not None:
            sources.append(requested)
    resolved = _combine(list(manifest.keys), sources, evidence)
    if legacy is None:
        return resolved, {}
    legacy.check_approach(resolved)
    return resolved, legacy.files(resolved)


def _files_per_key(
    manifest: SessionManifest,
    resolved: dict[str, Strategy],
    legacy_files: dict[str, str],
    evidence: dict[str, list[str]],
) -> dict[str, str]:
    """The file each key trains from: as saved, else its legacy data file, else the snapshot."""
    files: dict[str, str] = {}
    for key in resolved:
        saved = (manifest.files_per_key or {}).get(key)
        files[key] = saved or legacy_files.get(key) or manifest.dataset.snapshot_file
        origin = (
            "saved" if saved else ("legacy training files" if key in legacy_files else "snapshot")
        )
        evidence["files_per_key"].append(f"{key}: {files[key]} ({origin})")
    return files


def _with_strategy_fields(
    manifest: SessionManifest,
    resolved: dict[str, Strategy],
    files: dict[str, str],
    proposal: RepairProposal,
) -> SessionManifest:
    """A copy of ``manifest`` with the inferred strategy fields; changed ones go in ``proposal``."""
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
    return repaired


def _plan_and_check(repaired: SessionManifest, folder: Path, proposal: RepairProposal) -> None:
    """Plan the repaired session and record in ``proposal`` whether it is then complete."""
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
