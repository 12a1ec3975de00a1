"""Sessions page (AppTest under real navigation): table, details, warnings, actions."""

from __future__ import annotations

import contextlib

import pytest
from apptest_support import nav_app
from factories import KINDS, make_session

from arena_core.errors import ArenaError
from arena_core.session.manifest import STRATEGY_FIELDS

PAGE = "sessions"


@pytest.fixture
def mixed(store):
    """One session of every kind; returns kind -> id."""
    return {kind: make_session(store, kind) for kind in KINDS}


def table(at):
    return next(d for d in at.dataframe if d.key == "ses_table").value


def select(at, session_id):
    """Click the row of ``session_id`` (AppTest sets a dataframe selection through its key)."""
    row = list(table(at)["id"]).index(session_id)
    at.session_state["ses_table"] = {"selection": {"rows": [row], "columns": []}}
    return at.run()


def texts(elements) -> str:
    return "\n".join(e.value for e in elements)


def test_empty_store_explains_and_links_to_the_dataset_page(home, tmp_path):
    at = nav_app(tmp_path, PAGE).run()
    assert not at.exception
    assert "No sessions yet" in texts(at.info)
    links = at.get("page_link")
    assert any(link.proto.label == "Go to the Dataset page" for link in links)
    assert at.text_input(key="ses_import_path") is not None


def test_every_kind_is_listed_and_every_detail_view_renders(mixed, tmp_path):
    at = nav_app(tmp_path, PAGE).run()
    assert not at.exception
    frame = table(at)
    assert set(frame["id"]) == set(mixed.values())
    row = frame.set_index("id").loc[mixed["unreadable"]]
    assert row["status"] == "unreadable" and "cannot be read" in row["problem"]
    assert frame.set_index("id").loc[mixed["completed"], "models"] == "5 / 5"
    for kind, session_id in mixed.items():
        select(at, session_id)
        assert not at.exception, kind
        assert session_id in texts(at.caption)
    assert "cannot be read" in texts(at.error)  # the last one selected: unreadable


def test_incomplete_session_warns_missing_fields_and_cannot_relaunch(mixed, tmp_path):
    at = select(nav_app(tmp_path, PAGE).run(), mixed["incomplete"])
    warning = texts(at.warning)
    assert "missing" in warning
    for field in STRATEGY_FIELDS:
        assert field in warning
    assert at.button(key="ses_relaunch").disabled
    assert "Relaunch is unavailable" in texts(at.caption)
    at.button(key="ses_repair_preview").click().run()
    assert not at.exception  # shows the proposal or why the repair is refused


def test_filters_narrow_the_table(mixed, tmp_path):
    at = nav_app(tmp_path, PAGE).run()
    at.multiselect(key="ses_status").set_value(["failed"]).run()
    assert list(table(at)["id"]) == [mixed["failed"]]
    at.multiselect(key="ses_status").set_value([]).run()
    at.text_input(key="ses_search").set_value(mixed["running"]).run()
    assert list(table(at)["id"]) == [mixed["running"]]
    at.text_input(key="ses_search").set_value("").run()
    at.selectbox(key="ses_origin").set_value("legacy").run()
    assert table(at).empty
    assert not at.exception


def test_relaunch_creates_a_child_and_opens_the_monitor(store, tmp_path):
    from arena_core.run import control

    parent = make_session(store, "completed")
    at = select(nav_app(tmp_path, PAGE).run(), parent)
    assert not at.button(key="ses_relaunch").disabled
    at.button(key="ses_relaunch").click().run()
    try:
        assert not at.exception
        children = [s for s in store.list() if s.id != parent]
        assert len(children) == 1 and children[0].parent == parent
        assert [t.value for t in at.title] == ["Monitor"]
        assert at.selectbox(key="mon_pick").value == children[0].id
    finally:
        for child in children:
            with contextlib.suppress(ArenaError):
                control.cancel(store, child.id, grace=3)


def test_relaunch_with_another_learning_rate(store, tmp_path):
    from arena_core.run import control

    parent = make_session(store, "completed")
    at = select(nav_app(tmp_path, PAGE).run(), parent)
    at.number_input(key=f"ses_rl_{parent}_learning_rate").set_value(1e-4).run()
    at.button(key="ses_relaunch_custom").click().run()
    children = [s.id for s in store.list() if s.parent == parent]
    try:
        assert not at.exception and len(children) == 1
        child, original = store.load(children[0]).training, store.load(parent).training
        assert child.learning_rate == 1e-4
        assert child.model_dump(exclude={"learning_rate"}) == original.model_dump(
            exclude={"learning_rate"}
        )
    finally:
        for child_id in children:
            with contextlib.suppress(ArenaError):
                control.cancel(store, child_id, grace=3)


def test_relaunch_form_changes_strategy_and_model_with_a_plan_preview(store, tmp_path):
    parent = make_session(store, "completed", strategies={"sentiment": "multi-class"})
    at = select(nav_app(tmp_path, PAGE).run(), parent)
    n_values = len(store.load(parent).keys["sentiment"].labels)
    at.selectbox(key=f"ses_rl_{parent}_strategy_sentiment").set_value("one-vs-all").run()
    at.radio(key=f"ses_rl_{parent}_model").set_value("tfidf").run()
    assert not at.exception
    assert f"This session will train {n_values} models" in [s.value for s in at.subheader]
    assert any("completed · relaunch 1" in c.value for c in at.caption)
    at.button(key="ses_relaunch_custom").click().run()
    children = [s.id for s in store.list() if s.parent == parent]
    assert not at.exception and len(children) == 1
    child = store.load(children[0])
    assert child.training.model == "tfidf" and child.onevsall_keys == ["sentiment"]
    assert child.name == "completed · relaunch 1"
    from arena_core.run import control

    control.wait(store, child.id, timeout=120)


def test_relaunch_form_refuses_an_impossible_strategy_in_one_message(store, tmp_path):
    parent = make_session(store, "completed", strategies={"themes": "multi-label"})
    at = select(nav_app(tmp_path, PAGE).run(), parent)
    at.selectbox(key=f"ses_rl_{parent}_strategy_themes").set_value("multi-class").run()
    assert not at.exception
    assert [e.value for e in at.error if "cannot be multi-class" in e.value]
    assert at.button(key="ses_relaunch_custom").disabled


def test_resume_and_cancel_follow_the_status(mixed, tmp_path):
    at = select(nav_app(tmp_path, PAGE).run(), mixed["failed"])
    assert not at.button(key="ses_resume").disabled and at.button(key="ses_cancel").disabled
    select(at, mixed["running"])
    assert at.button(key="ses_resume").disabled and not at.button(key="ses_cancel").disabled
    select(at, mixed["completed"])
    assert at.button(key="ses_resume").disabled and at.button(key="ses_cancel").disabled


def test_delete_needs_a_confirmation_and_moves_to_the_trash(store, mixed, tmp_path):
    victim = mixed["failed"]
    at = select(nav_app(tmp_path, PAGE).run(), victim)
    assert at.button(key="ses_delete").disabled
    at.checkbox(key=f"ses_confirm_delete_{victim}").check().run()
    at.button(key="ses_delete").click().run()
    assert not at.exception
    assert victim not in {s.id for s in store.list()}
    assert any(p.name.startswith(victim) for p in store.trash_root.iterdir())
    assert "trash" in texts(at.success)
    assert victim not in set(table(at)["id"])


def test_running_session_cannot_be_deleted(mixed, tmp_path):
    at = select(nav_app(tmp_path, PAGE).run(), mixed["running"])
    at.checkbox(key=f"ses_confirm_delete_{mixed['running']}").check().run()
    at.button(key="ses_delete").click().run()
    assert not at.exception
    assert "cancel it first" in texts(at.error)


def test_import_from_the_previous_tool(store, tmp_path):
    from legacy_fixtures import incomplete_hybrid

    at = nav_app(tmp_path, PAGE).run()
    at.text_input(key="ses_import_path").set_value(str(tmp_path / "nothing-here")).run()
    at.button(key="ses_import").click().run()
    assert not at.exception and "is not a folder" in texts(at.error)

    legacy_root = tmp_path / "logs" / "training_arena"
    incomplete_hybrid(legacy_root)
    at.text_input(key="ses_import_path").set_value(str(legacy_root)).run()
    at.button(key="ses_import").click().run()
    assert not at.exception
    imported = [s for s in store.list() if s.origin == "legacy"]
    assert len(imported) == 1 and "Imported 1 session" in texts(at.success)

    select(at, imported[0].id)
    assert "missing" in texts(at.warning)
    at.button(key="ses_repair_preview").click().run()
    assert not at.exception
    at.button(key="ses_repair_apply").click().run()
    assert not at.exception
    assert store.summary(imported[0].id).complete
    assert not at.button(key="ses_relaunch").disabled


def test_session_list_rereads_only_changed_folders(store):
    """The browser re-reads a session only when its folder changed, or while it is live."""
    import json
    import os
    import shutil
    import time

    from arena_core.store import paths
    from ui.session_views import list_sessions

    def statuses():
        return {s.id: s.status for s in list_sessions(store)}

    done, running = make_session(store, "completed"), make_session(store, "running")
    folder = store.session_dir(done)
    old = time.time() - 60
    os.utime(folder, (old, old))
    assert statuses() == {done: "completed", running: "running"}
    (folder / paths.MANIFEST).write_bytes(b"garbage")  # in place: the folder mtime is kept
    (folder / paths.MANIFEST_BACKUP).unlink()
    os.utime(folder, (old, old))
    assert statuses()[done] == "completed"  # cached: not re-read
    os.utime(folder, None)
    assert statuses()[done] == "unreadable"  # the folder changed: re-read

    live = store.session_dir(running)
    stamp = live.stat()
    progress = json.loads((live / paths.PROGRESS).read_text("utf-8"))
    progress["heartbeat"] = time.time() - 3600  # the worker died long ago
    (live / paths.PROGRESS).write_text(json.dumps(progress), "utf-8")
    os.utime(live, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert statuses()[running] == "interrupted"  # live sessions are always re-read
    assert statuses().keys() == {done, running}
    shutil.rmtree(folder)
    assert statuses().keys() == {running}
