"""Import of sessions saved by the previous tool: copies, fallbacks, mapping, check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from legacy_fixtures import (
    ALICE,
    complete_hybrid,
    corrupt_primary,
    incomplete_hybrid,
    snapshot_tree,
    unreadable,
    write_all,
)

from arena_core.data.splits import read_split
from arena_core.errors import ArenaError, ManifestError
from arena_core.legacy.importer import import_legacy, manifest_from_folder
from arena_core.session.check import check
from arena_core.session.manifest import SessionStatus, file_sha256, read_manifest
from arena_core.store import paths

ROOT = Path(__file__).resolve().parent.parent
FOUR = {"multiclass_keys", "onevsall_keys", "key_strategies", "files_per_key"}
READABLE = {"hybrid", "twokeys", "complete", "corrupt", "ambiguous"}


def cli(*args, home):
    return subprocess.run(
        [sys.executable, "-m", "arena_core", "--home", str(home), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def sid(name: str) -> str:
    return f"{name}_20240501_101500"


@pytest.fixture
def legacy_root(tmp_path) -> Path:
    root = tmp_path / "logs" / "training_arena"
    write_all(root)
    return root


@pytest.fixture
def imported(store, legacy_root):
    return import_legacy(store, legacy_root)


def test_parent_import_imports_readable_and_lists_unreadable(store, legacy_root):
    before = snapshot_tree(legacy_root)
    report = import_legacy(store, legacy_root)
    assert set(report.imported) == {sid(n) for n in READABLE}
    assert len(report.unreadable) == 1
    path, reason = report.unreadable[0]
    assert path.endswith(sid("broken"))
    assert "training_metadata.json" in reason and "training_metadata_backup.json" in reason
    assert "invalid JSON" in reason
    assert snapshot_tree(legacy_root) == before  # the originals are untouched
    for name in READABLE:
        manifest = store.load(sid(name))
        assert manifest.origin == "legacy" and manifest.status is SessionStatus.IMPORTED


def test_originals_copied_byte_identical(store, legacy_root, imported):
    source = legacy_root / sid("hybrid")
    copy = store.session_dir(sid("hybrid")) / paths.LEGACY_DIR
    for rel in (
        "training_session_metadata/training_metadata.json",
        "training_session_metadata/training_metadata_backup.json",
        "resume.json",
    ):
        assert (copy / rel).read_bytes() == (source / rel).read_bytes()
    data_files = sorted(p.name for p in (source / "training_data").iterdir())
    assert sorted(p.name for p in (copy / "training_data").iterdir()) == data_files
    for name in data_files:
        assert (copy / "training_data" / name).read_bytes() == (
            source / "training_data" / name
        ).read_bytes()
    legacy = store.load(sid("hybrid")).legacy
    assert legacy["source_path"] == str(source.resolve())
    assert legacy["metadata_sha256"] == file_sha256(
        source / "training_session_metadata" / "training_metadata.json"
    )


def test_mapping_of_sections(store, imported):
    manifest = store.load(sid("hybrid"))
    assert list(manifest.keys) == ["sentiment", "themes"]
    assert manifest.keys["sentiment"].labels == ["negative", "neutral", "positive"]
    assert manifest.keys["themes"].labels == ["economy", "environment", "health"]
    assert manifest.keys["themes"].multi_valued and not manifest.keys["sentiment"].multi_valued
    for name in FOUR:
        assert getattr(manifest, name) is None  # never invented at import
    assert manifest.training.model == "minilm"
    assert (manifest.training.epochs, manifest.training.batch_size) == (4, 8)
    assert manifest.training.learning_rate == pytest.approx(3e-5)
    assert manifest.legacy["selected_model"] == "bert-base-multilingual-cased"
    kept = manifest.legacy["metadata"]
    assert kept["text_analysis"] == {"avg_length": 42.0, "max_length": 80}
    assert kept["execution_status"]["error_message"] == "All trainings failed"
    files = manifest.legacy["files"]
    assert files["training_files.sentiment"]["recorded"].startswith(ALICE)
    assert files["training_files.sentiment"]["found"].startswith("training_data/")
    assert manifest.split.seed == 7 and manifest.split.val_ratio == pytest.approx(0.25)


def test_snapshot_and_split_are_built_and_deterministic(store, legacy_root, imported):
    folder = store.session_dir(sid("hybrid"))
    manifest = store.load(sid("hybrid"))
    table = pd.read_parquet(folder / paths.DATASET_SNAPSHOT)
    assert list(table.columns[:4]) == ["row", "text", "language", "id"]
    assert len(table) == manifest.dataset.n_rows == 80
    assert set(table["language"]) == {"EN", "FR"}
    sentiments = {v for cell in table["labels::sentiment"] for v in cell}
    assert sentiments == {"positive", "negative", "neutral"}  # bare values, prefixes gone
    first = table.set_index("id").loc["doc003"]
    assert list(first["labels::themes"]) == ["economy", "health"]
    assert file_sha256(folder / paths.DATASET_SNAPSHOT) == manifest.dataset.snapshot_sha256
    _, digest = read_split(folder / paths.SPLIT_FILE)
    assert digest == manifest.split.sha256
    assert manifest.split.counts["validation"] > 0

    again = import_legacy(store, legacy_root / sid("hybrid"), again=True)
    assert again.imported == [sid("hybrid") + "_2"]
    assert store.load(again.imported[0]).split.sha256 == manifest.split.sha256


def test_second_import_is_skipped_unless_again(store, legacy_root, imported):
    report = import_legacy(store, legacy_root)
    assert report.imported == []
    assert {Path(p).name for p, _ in report.skipped} == {sid(n) for n in READABLE}
    assert all("already imported" in why for _, why in report.skipped)
    assert len(report.unreadable) == 1
    again = import_legacy(store, legacy_root / sid("twokeys"), again=True)
    assert again.imported == [sid("twokeys") + "_2"]


def test_corrupt_primary_falls_back_to_backup(store, tmp_path):
    folder = corrupt_primary(tmp_path / "src")
    report = import_legacy(store, folder)
    assert report.imported == [sid("corrupt")]
    notes = " ".join(report.notes[sid("corrupt")])
    assert "training_metadata_backup.json" in notes and "truncated" in notes
    manifest = store.load(sid("corrupt"))
    assert manifest.legacy["read_from_backup"] is True
    assert manifest.legacy["metadata"]["execution_status"]["status"] == "pending"
    copied = store.session_dir(sid("corrupt")) / paths.LEGACY_DIR / "training_session_metadata"
    primary = folder / "training_session_metadata" / "training_metadata.json"
    assert (copied / "training_metadata.json").read_bytes() == primary.read_bytes()


def test_unreadable_folder_names_both_files(store, tmp_path):
    folder = unreadable(tmp_path / "src")
    with pytest.raises(ManifestError, match="training_metadata_backup.json"):
        manifest_from_folder(folder)
    report = import_legacy(store, folder)
    assert report.imported == [] and len(report.unreadable) == 1
    assert not store.sessions_root.exists() or not any(store.sessions_root.iterdir())


def test_missing_data_file_is_reported(store, tmp_path):
    folder = incomplete_hybrid(tmp_path / "src")
    gone = next((folder / "training_data").glob("onevsall_keys_*.jsonl"))
    gone.unlink()
    report = import_legacy(store, folder)
    notes = " ".join(report.notes[sid("hybrid")])
    assert "onevsall_multilabel" in notes and gone.name in notes and "not found" in notes
    manifest = store.load(sid("hybrid"))
    assert manifest.legacy["files"]["training_files.onevsall_multilabel"]["found"] is None
    # the consolidated file still carries the themes labels
    assert manifest.keys["themes"].labels == ["economy", "environment", "health"]


def test_data_file_found_anywhere_in_the_folder(store, tmp_path):
    folder = incomplete_hybrid(tmp_path / "src")
    moved = folder / "elsewhere"
    moved.mkdir()
    for path in (folder / "training_data").iterdir():
        path.rename(moved / path.name)
    report = import_legacy(store, folder)
    assert not any("not found" in n for n in report.notes[sid("hybrid")])
    assert store.load(sid("hybrid")).keys["sentiment"].labels == [
        "negative",
        "neutral",
        "positive",
    ]


def test_no_session_in_folder_is_an_error(store, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArenaError, match="No legacy session found"):
        import_legacy(store, tmp_path / "empty")


def test_ambiguous_import_records_why_no_snapshot(store, imported):
    manifest = store.load(sid("ambiguous"))
    notes = " ".join(manifest.notes)
    assert "'economy' could belong to 'themes' or 'topics'" in notes
    assert not (store.session_dir(sid("ambiguous")) / paths.DATASET_SNAPSHOT).exists()


# ---------------------------------------------------------------- check (CLI)


def test_check_names_the_four_missing_fields(home, imported):
    for name in ("hybrid", "twokeys", "corrupt", "ambiguous"):
        result = cli("check", sid(name), "--json", home=home)
        assert result.returncode == 1, result.stderr
        payload = json.loads(result.stdout)
        assert payload["complete"] is False
        errors = {p["field"] for p in payload["problems"] if p["severity"] == "error"}
        # the ambiguous one also cannot build its training table: named as 'dataset'
        assert errors == (FOUR | {"dataset"} if name == "ambiguous" else FOUR), name
    result = cli("check", sid("complete"), "--json", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["problems"] == []


def test_check_raw_legacy_folder(home, tmp_path):
    incomplete = incomplete_hybrid(tmp_path / "src")
    complete = complete_hybrid(tmp_path / "src")
    before = snapshot_tree(tmp_path / "src")
    result = cli("check", incomplete, "--json", home=home)
    assert result.returncode == 1, result.stderr
    errors = {p["field"] for p in json.loads(result.stdout)["problems"]}
    assert errors == FOUR
    result = cli("check", complete, "--json", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert snapshot_tree(tmp_path / "src") == before
    assert not home.exists()  # check PATH writes nothing


def test_check_reports_a_missing_legacy_data_file(store, tmp_path):
    import_legacy(store, complete_hybrid(tmp_path / "src"))
    folder = store.session_dir(sid("complete"))
    manifest, _ = read_manifest(folder)
    assert check(manifest, folder) == []
    (folder / manifest.files_per_key["sentiment"]).unlink()
    fields = {p.field for p in check(manifest, folder)}
    assert fields == {"files_per_key"}


def test_import_legacy_cli_json(home, legacy_root):
    result = cli("import-legacy", legacy_root, "--json", home=home)
    assert result.returncode == 1, result.stderr  # one unreadable folder
    payload = json.loads(result.stdout)
    assert len(payload["imported"]) == 5
    assert [Path(u["path"]).name for u in payload["unreadable"]] == [sid("broken")]
    result = cli("import-legacy", legacy_root / sid("hybrid"), "--json", home=home)
    assert result.returncode == 0
    payload = json.loads(result.stdout)
    assert payload["imported"] == [] and "already imported" in payload["skipped"][0]["reason"]
