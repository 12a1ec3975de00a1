"""Manifests across versions: an older schema is migrated, a newer one loses nothing."""

from __future__ import annotations

import json

from arena_core.data.demo import demo_options, demo_path
from arena_core.session.create import SessionSettings, create_session, prepare_from_file
from arena_core.session.manifest import SCHEMA_VERSION, parse_manifest, write_manifest
from arena_core.session.plan import plan
from arena_core.store import paths
from arena_core.store.session_store import SessionStore

# A v1 manifest as version 0.1 wrote it (by hand, trimmed to what v1 required).
V1 = {
    "schema_version": 1,
    "id": "old_20240101_000000",
    "name": "old",
    "status": "completed",
    "dataset": {
        "source_name": "old.csv",
        "source_sha256": "0" * 64,
        "snapshot_sha256": "1" * 64,
        "n_rows": 10,
        "options": {"text_col": "text", "layout": "annotation-json", "annotation_col": "a"},
    },
    "keys": {"sentiment": {"labels": ["neg", "pos"], "counts": {"neg": 5, "pos": 5}}},
    "key_strategies": {"sentiment": "multi-class"},
    "multiclass_keys": ["sentiment"],
    "onevsall_keys": [],
    "multilabel_keys": [],
    "files_per_key": {},
    "training": {"model": "minilm", "epochs": 3, "early_stopping_patience": None},
}


def test_v1_manifest_is_migrated_and_keeps_what_it_trained_with():
    manifest = parse_manifest(json.dumps(V1))
    assert manifest.schema_version == SCHEMA_VERSION == 3
    assert manifest.training.epochs == 3  # explicit epochs, not the new automatic length
    assert manifest.training.early_stopping_patience == 0  # v1's null meant off
    assert [job.id for job in plan(manifest)] == ["sentiment__multi-class"]


def test_v2_manifest_keeps_fp32_and_a_new_one_is_auto():
    """v3 added training.precision ('auto'): sessions saved before trained in fp32 and keep it."""
    v2 = json.loads(json.dumps(V1))
    v2["schema_version"] = 2
    v2["training"]["early_stopping_patience"] = 0
    manifest = parse_manifest(json.dumps(v2))
    assert manifest.schema_version == 3 and manifest.training.precision == "fp32"
    assert parse_manifest(json.dumps(V1)).training.precision == "fp32"  # v1 -> v2 -> v3
    v2["training"]["precision"] = "bf16"  # a v2 file that somehow says: kept
    assert parse_manifest(json.dumps(v2)).training.precision == "bf16"
    prepared = prepare_from_file(demo_path(), demo_options(), SessionSettings(name="new"))
    assert prepared.manifest.training.precision == "auto"


def test_v1_manifest_without_epochs_keeps_v1_default():
    raw = json.loads(json.dumps(V1))
    del raw["training"]["epochs"]
    assert parse_manifest(json.dumps(raw)).training.epochs == 3


def test_unknown_fields_of_a_newer_version_survive_load_and_write(tmp_path):
    store = SessionStore(tmp_path / "home")
    prepared = prepare_from_file(demo_path(), demo_options(), SessionSettings(name="fwd"))
    folder = store.session_dir(create_session(store, prepared).id)
    raw = json.loads((folder / paths.MANIFEST).read_text())
    raw["from_the_future"] = {"a": 1}
    raw["training"]["gradient_checkpointing"] = True
    raw["dataset"]["options"]["encoding"] = "latin-1"
    raw["plan"][0]["device"] = "gpu:0"
    (folder / paths.MANIFEST).write_text(json.dumps(raw))

    manifest = store.load(folder.name)
    write_manifest(folder, manifest)  # e.g. a status change by this older version
    again = json.loads((folder / paths.MANIFEST).read_text())
    assert again["from_the_future"] == {"a": 1}
    assert again["training"]["gradient_checkpointing"] is True
    assert again["dataset"]["options"]["encoding"] == "latin-1"
    assert again["plan"][0]["device"] == "gpu:0"
    assert [job.id for job in plan(manifest)] == [job["id"] for job in raw["plan"]]
