"""Manifest persistence (atomic, backup fallback) and the session store."""

from __future__ import annotations

import json

import pytest
from factories import new_session

from arena_core.errors import InvalidSessionId, ManifestError, SessionNotFound
from arena_core.session.manifest import SessionStatus, read_manifest, write_manifest
from arena_core.session.relaunch import create_relaunch
from arena_core.store import paths


@pytest.fixture
def session(store):
    return store.load(new_session(store))


def test_truncated_manifest_falls_back_to_backup_with_warning(store, session):
    folder = store.session_dir(session.id)
    store.set_status(session.id, SessionStatus.RUNNING)  # second write: a backup now exists
    data = (folder / paths.MANIFEST).read_bytes()
    (folder / paths.MANIFEST).write_bytes(data[: len(data) // 2])
    manifest, warnings = read_manifest(folder)
    assert manifest.id == session.id
    assert warnings and "backup" in warnings[0]


def test_damaged_manifest_and_backup_is_a_clear_error(store, session):
    folder = store.session_dir(session.id)
    (folder / paths.MANIFEST).write_text("{not json")
    (folder / paths.MANIFEST_BACKUP).write_text("")
    with pytest.raises(ManifestError, match="cannot be read"):
        read_manifest(folder)


def test_write_never_replaces_a_good_backup_with_a_damaged_primary(store, session):
    folder = store.session_dir(session.id)
    store.set_status(session.id, SessionStatus.QUEUED)
    good_backup = (folder / paths.MANIFEST_BACKUP).read_bytes()
    (folder / paths.MANIFEST).write_text("garbage")
    manifest, _ = read_manifest(folder)
    write_manifest(folder, manifest)
    assert (folder / paths.MANIFEST_BACKUP).read_bytes() == good_backup
    assert read_manifest(folder)[1] == []


def test_listing_survives_an_unreadable_session(store, session):
    broken = store.sessions_root / "broken_20260101_000000"
    broken.mkdir()
    (broken / paths.MANIFEST).write_text("{")
    listed = {s.id: s for s in store.list()}
    assert listed[session.id].status == "ready" and listed[session.id].complete
    assert listed[broken.name].error and "cannot be read" in listed[broken.name].error


@pytest.mark.parametrize("bad", ["../etc", "a/b", "..", "", ".hidden", "x" * 200, "a\\b", "/abs"])
def test_session_ids_cannot_escape_the_store(store, bad):
    with pytest.raises(InvalidSessionId):
        store.session_dir(bad)


def test_unknown_session_is_a_clear_error(store):
    with pytest.raises(SessionNotFound, match="python -m arena_core list"):
        store.load("nope")


def test_trash_moves_the_folder(store, session):
    target = store.trash(session.id)
    assert target.is_dir() and not store.session_dir(session.id).exists()
    assert store.list() == []


def test_relaunch_copies_snapshot_and_split_and_leaves_parent_untouched(store, session):
    parent_dir = store.session_dir(session.id)
    before = (parent_dir / paths.MANIFEST).read_bytes()
    child = create_relaunch(store, session.id, {"epochs": 3, "learning_rate": 3e-5})
    assert child.parent == session.id and child.id != session.id
    assert child.split.sha256 == session.split.sha256
    assert child.plan == session.plan and child.training.epochs == 3
    assert (parent_dir / paths.MANIFEST).read_bytes() == before
    child_dir = store.session_dir(child.id)
    assert (child_dir / paths.SPLIT_FILE).read_bytes() == (
        parent_dir / paths.SPLIT_FILE
    ).read_bytes()


def test_relaunch_refuses_incomplete_parent_and_unknown_override(store, session):
    with pytest.raises(Exception, match="Unknown setting 'epoch'"):
        create_relaunch(store, session.id, {"epoch": 3})
    path = store.session_dir(session.id) / paths.MANIFEST
    raw = json.loads(path.read_text())
    raw["key_strategies"] = None
    path.write_text(json.dumps(raw))
    with pytest.raises(ManifestError, match="repair"):
        create_relaunch(store, session.id)
    assert len(store.list()) == 1


def test_unreadable_session_can_be_trashed(store):
    broken = store.sessions_root / "broken_20260101_000000"
    broken.mkdir(parents=True)
    (broken / paths.MANIFEST).write_text("{")
    assert store.trash(broken.name).is_dir()


def test_listing_cache_follows_manifest_edits(store, session):
    assert store.list()[0].complete  # builds the cache
    assert (store.session_dir(session.id) / paths.LISTING_CACHE).exists()
    path = store.session_dir(session.id) / paths.MANIFEST
    raw = json.loads(path.read_text())
    raw["key_strategies"] = None
    path.write_text(json.dumps(raw))
    assert store.list()[0].complete is False
