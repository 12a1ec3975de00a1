"""Repair of missing strategy fields: inference, refusals, plan and relaunch afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from factories import THREE_THEMES, new_session
from legacy_fixtures import (
    ambiguous,
    complete_hybrid,
    incomplete_hybrid,
    incomplete_multiclass,
    write_legacy_session,
)

from arena_core.errors import RepairRefused
from arena_core.legacy import repair
from arena_core.legacy.importer import import_legacy
from arena_core.session.check import check, is_complete
from arena_core.session.manifest import SessionStatus
from arena_core.session.plan import plan
from arena_core.session.strategy import Strategy
from arena_core.store import paths

ROOT = Path(__file__).resolve().parent.parent
FOUR = {"multiclass_keys", "onevsall_keys", "key_strategies", "files_per_key"}


def cli(*args, home):
    return subprocess.run(
        [sys.executable, "-m", "arena_core", "--home", str(home), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def imported(store, tmp_path, make) -> str:
    report = import_legacy(store, make(tmp_path / "src"))
    assert len(report.imported) == 1, report
    return report.imported[0]


def edit_metadata(folder: Path, change) -> Path:
    """Change a fixture's metadata before import (the user's file, as the old tool saved it)."""
    path = folder / "training_session_metadata" / "training_metadata.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))
    return folder


def manifest_bytes(store, session_id: str) -> bytes:
    return (store.session_dir(session_id) / paths.MANIFEST).read_bytes()


# ---------------------------------------------------------------- legacy


def test_repair_hybrid_then_plan_gives_the_original_models(store, home, tmp_path):
    session = imported(store, tmp_path, incomplete_hybrid)
    result = cli("repair", session, "--json", home=home)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["session"] == session and payload["complete"] is True
    assert set(payload["inferred"]) >= FOUR
    assert payload["inferred"]["key_strategies"] == {
        "sentiment": "multi-class",
        "themes": "one-vs-all",
    }
    assert payload["inferred"]["files_per_key"] == {
        "sentiment": "legacy/training_data/multiclass_sentiment_20240501_101500.jsonl",
        "themes": "legacy/training_data/onevsall_keys_20240501_101500.jsonl",
    }
    reasons = " ".join(payload["evidence"]["key_strategies"])
    assert "training_files" in reasons and "'themes_' labels" in reasons and "hybrid" in reasons

    result = cli("plan", session, "--json", home=home)
    assert result.returncode == 0, result.stderr
    jobs = json.loads(result.stdout)["jobs"]
    assert len(jobs) == 4
    multi = [j for j in jobs if j["strategy"] == "multi-class"]
    assert [(j["key"], j["labels"]) for j in multi] == [
        ("sentiment", ["negative", "neutral", "positive"])
    ]
    assert sorted(j["label"] for j in jobs if j["strategy"] == "one-vs-all") == [
        "economy",
        "environment",
        "health",
    ]
    assert cli("check", session, home=home).returncode == 0
    folder = store.session_dir(session)
    assert (folder / paths.MANIFEST_BACKUP).is_file()  # the previous manifest is kept
    manifest = store.load(session)
    assert manifest.status is SessionStatus.IMPORTED
    assert manifest.legacy["repairs"][0]["inferred"]["onevsall_keys"] == ["themes"]


def test_repair_two_multiclass_keys(store, tmp_path):
    session = imported(store, tmp_path, incomplete_multiclass)
    proposal = repair.apply(store, session)
    assert proposal.written and proposal.complete
    manifest = store.load(session)
    assert manifest.multiclass_keys == ["sentiment", "urgency"]
    assert manifest.onevsall_keys == []
    assert [(j.key, j.strategy) for j in plan(manifest)] == [
        ("sentiment", Strategy.MULTI_CLASS),
        ("urgency", Strategy.MULTI_CLASS),
    ]


def test_dry_run_shows_and_writes_nothing(store, home, tmp_path):
    session = imported(store, tmp_path, incomplete_hybrid)
    before = manifest_bytes(store, session)
    result = cli("repair", session, "--dry-run", "--json", home=home)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload["inferred"]) >= FOUR and payload["written"] is False
    assert len(payload["jobs"]) == 4
    assert manifest_bytes(store, session) == before
    assert repair.propose(store, session).inferred == payload["inferred"]
    assert manifest_bytes(store, session) == before


def test_ambiguous_is_refused_and_nothing_written(store, home, tmp_path):
    session = imported(store, tmp_path, ambiguous)
    folder = store.session_dir(session)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    proposal = repair.propose(store, session)
    assert proposal.refused_reason and not proposal.inferred
    assert "'economy' could belong to 'themes' or 'topics'" in proposal.refused_reason
    with pytest.raises(RepairRefused, match="Nothing was written"):
        repair.apply(store, session)
    result = cli("repair", session, home=home)
    assert result.returncode == 2
    assert "refused" in result.stderr and "economy" in result.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_saved_field_contradicting_the_files_is_refused(store, tmp_path):
    def claim(data):  # sentiment has its own multi-class file, yet is listed one-vs-all
        data["dataset_config"]["onevsall_keys"] = ["sentiment", "themes"]

    folder = edit_metadata(incomplete_hybrid(tmp_path / "src"), claim)
    session = import_legacy(store, folder).imported[0]
    before = manifest_bytes(store, session)
    with pytest.raises(RepairRefused, match="disagrees on key 'sentiment'"):
        repair.apply(store, session)
    assert manifest_bytes(store, session) == before


def test_approach_contradicting_the_files_is_refused(store, tmp_path):
    def claim(data):
        data["dataset_config"]["training_approach"] = "multi-class"

    folder = edit_metadata(incomplete_hybrid(tmp_path / "src"), claim)
    session = import_legacy(store, folder).imported[0]
    proposal = repair.propose(store, session)
    assert proposal.refused_reason and "training_approach" in proposal.refused_reason


def test_prefixes_of_a_multiclass_key_in_the_onevsall_file_are_refused(store, tmp_path):
    folder = write_legacy_session(
        tmp_path / "src", "mixed", {"sentiment": ["positive", "negative"]}, {"themes": ["a", "b"]}
    )
    onevsall = next((folder / "training_data").glob("onevsall_keys_*.jsonl"))
    lines = [json.loads(line) for line in onevsall.read_text().splitlines()]
    lines[0]["labels"].append("sentiment_positive")
    onevsall.write_text("".join(json.dumps(line) + "\n" for line in lines))
    session = import_legacy(store, folder).imported[0]
    proposal = repair.propose(store, session)
    assert proposal.refused_reason and "holds labels of sentiment" in proposal.refused_reason


def test_partial_legacy_fields_are_completed(store, tmp_path):
    def partial(data):
        data["dataset_config"]["multiclass_keys"] = ["sentiment"]

    folder = edit_metadata(incomplete_hybrid(tmp_path / "src"), partial)
    session = import_legacy(store, folder).imported[0]
    assert {p.field for p in check(store.load(session))} == FOUR - {"multiclass_keys"}
    proposal = repair.apply(store, session)
    assert "multiclass_keys" not in proposal.inferred and proposal.complete


def test_complete_session_needs_no_repair(store, tmp_path):
    session = imported(store, tmp_path, complete_hybrid)
    before = manifest_bytes(store, session)
    proposal = repair.apply(store, session)
    assert proposal.inferred == {} and proposal.complete and not proposal.written
    assert manifest_bytes(store, session) == before


# ---------------------------------------------------------------- native


@pytest.fixture
def native(store):
    strategies = {"sentiment": "multi-class", "themes": "one-vs-all"}
    return new_session(store, "native", rows=60, keys=THREE_THEMES, strategies=strategies)


def _strip(store, session_id, *names):
    def change(manifest):
        for name in names:
            setattr(manifest, name, None)

    store.update(session_id, change)


def test_native_fields_rebuilt_from_those_remaining(store, native):
    original = store.load(native)
    _strip(store, native, "key_strategies", "files_per_key")
    assert {p.field for p in check(store.load(native))} == {"key_strategies", "files_per_key"}
    proposal = repair.apply(store, native)
    assert set(proposal.inferred) == {"key_strategies", "files_per_key"}
    repaired = store.load(native)
    assert repaired.key_strategies == original.key_strategies
    assert repaired.files_per_key == {k: paths.DATASET_SNAPSHOT for k in repaired.keys}
    assert plan(repaired) == plan(original)
    assert is_complete(check(repaired, store.session_dir(native)))


def test_native_strategies_from_requested_when_all_lost(store, native):
    original = store.load(native)

    def lose(manifest):
        for name in (*FOUR, "multilabel_keys"):
            setattr(manifest, name, None)
        manifest.plan = []

    store.update(native, lose)
    proposal = repair.apply(store, native)
    assert proposal.complete
    assert plan(store.load(native)) == plan(original)
    assert "requested" in " ".join(proposal.evidence["key_strategies"])


def test_native_inconsistent_lists_rewritten_from_key_strategies(store, native):
    def wrong(manifest):
        manifest.multiclass_keys = ["themes"]
        manifest.onevsall_keys = ["sentiment"]

    store.update(native, wrong)
    assert not is_complete(check(store.load(native)))
    proposal = repair.apply(store, native)
    assert proposal.inferred["multiclass_keys"] == ["sentiment"]
    assert "rewritten from key_strategies" in " ".join(proposal.evidence["key_strategies"])


# ---------------------------------------------------------------- relaunch


def test_relaunch_of_repaired_hybrid_trains_every_job(store, tmp_path):
    from arena_core.run.worker import run_session
    from arena_core.session.relaunch import create_relaunch
    from arena_core.store.records import JobStatus, read_progress

    session = imported(store, tmp_path, incomplete_hybrid)
    with pytest.raises(Exception, match="repair"):
        create_relaunch(store, session, {"model": "tiny", "epochs": 1})
    repair.apply(store, session)
    child = create_relaunch(store, session, {"model": "tiny", "epochs": 1})
    assert child.parent == session and child.origin == "native" and len(child.plan) == 4
    assert run_session(store, child.id) is SessionStatus.COMPLETED
    jobs = read_progress(store.session_dir(child.id)).jobs
    assert len(jobs) == 4 and all(j.status is JobStatus.COMPLETED for j in jobs.values())
    assert store.load(session).status is SessionStatus.IMPORTED  # the parent is untouched
