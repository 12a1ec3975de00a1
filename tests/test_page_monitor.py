"""Monitor page (AppTest under real navigation): header, jobs, curves, incremental metrics."""

from __future__ import annotations

import json

import pytest
from apptest_support import nav_app
from factories import KINDS, append_eval, make_session, new_session, refresh_heartbeat

from arena_core.store import paths
from arena_core.store.metrics_log import truncate_job_after
from ui.common import MONITOR_SESSION

PAGE = "monitor"


def charts(at) -> dict[str, dict]:
    """Plotly charts on the page by title -> figure spec."""
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return {spec["layout"]["title"]["text"]: spec for spec in specs}


def points(spec: dict) -> int:
    return sum(len(trace.get("x") or []) for trace in spec["data"])


def open_session(tmp_path, session_id):
    at = nav_app(tmp_path, PAGE)
    at.session_state[MONITOR_SESSION] = session_id
    return at.run()


def test_empty_store(home, tmp_path):
    at = nav_app(tmp_path, PAGE).run()
    assert not at.exception
    assert "No session to follow" in at.info[0].value


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders(store, tmp_path, kind):
    make_session(store, "completed", "other")
    session_id = make_session(store, kind)
    at = open_session(tmp_path, session_id)
    assert not at.exception
    if kind == "unreadable":  # not listed: the page says so and shows another session
        assert "No readable session" in at.warning[0].value
        assert at.selectbox(key="mon_pick").value != session_id
    else:
        assert at.selectbox(key="mon_pick").value == session_id


def test_completed_session_shows_loss_and_f1(store, tmp_path):
    session_id = make_session(store, "completed")
    at = open_session(tmp_path, session_id)
    figures = charts(at)
    assert set(figures) == {"Loss", "Validation macro-F1"}
    assert len(figures["Loss"]["data"]) == 10  # 5 models x (train + validation)
    jobs = next(d.value for d in at.dataframe if "model" in d.value.columns)
    assert list(jobs["status"]) == ["completed"] * 5
    assert at.button(key="mon_resume").disabled and at.button(key="mon_cancel").disabled


def test_completed_session_points_to_predict_and_compare_and_says_how_long(store, tmp_path):
    session_id = make_session(store, "completed")
    at = open_session(tmp_path, session_id)
    assert any("Training finished" in s.value for s in at.success)
    assert any("· Took 3 min 20 s" in m.value for m in at.markdown if m.value.startswith("####"))
    for figure in charts(at).values():  # legends name models as people do, never by job id
        names = {trace["name"] for trace in figure["data"]}
        assert "themes: economy" in names and not any("__" in name for name in names)


def test_a_never_started_session_can_be_started_from_the_monitor(store, tmp_path):
    from arena_core.run import control

    session_id = new_session(store, "fresh", model="tfidf")
    at = open_session(tmp_path, session_id)
    start = at.button(key="mon_resume")
    assert start.label == "Start" and not start.disabled
    start.click().run()
    assert not at.exception
    assert control.wait(store, session_id, timeout=120).value == "completed"


def test_running_session_reads_new_metrics_incrementally(store, tmp_path):
    session_id = make_session(store, "running")
    at = open_session(tmp_path, session_id)
    assert not at.exception
    assert not at.button(key="mon_cancel").disabled
    before = points(charts(at)["Loss"])
    tail = at.session_state["mon_tails"][session_id]
    offset = tail.offset
    job = store.load(session_id).plan[1].id
    append_eval(store, session_id, job, epoch=2, f1=0.9)
    refresh_heartbeat(store, session_id)
    at.run()
    assert not at.exception
    assert points(charts(at)["Loss"]) > before
    again = at.session_state["mon_tails"][session_id]
    assert again is tail and tail.offset > offset  # same reader, moved on: only new bytes read

    # a resume rewrites the log (another file): the reader starts again, no duplicated points
    truncate_job_after(store.session_dir(session_id) / paths.METRICS, job, -1)
    refresh_heartbeat(store, session_id)
    at.run()
    assert not at.exception
    assert points(charts(at)["Loss"]) < before


def test_query_parameter_and_picker_choose_the_session(store, tmp_path):
    first = make_session(store, "completed", "first")
    second = make_session(store, "failed", "second")
    at = nav_app(tmp_path, PAGE)
    at.query_params["session"] = first
    at.run()
    assert at.selectbox(key="mon_pick").value == first
    at.selectbox(key="mon_pick").set_value(second).run()
    assert not at.exception
    assert at.session_state[MONITOR_SESSION] == second
    assert not at.button(key="mon_resume").disabled  # failed: resumable
    assert any("failed" in m.value for m in at.markdown)


def test_running_sessions_are_offered_first(store, tmp_path):
    running = make_session(store, "running", "busy")
    make_session(store, "completed", "newer")
    at = nav_app(tmp_path, PAGE).run()
    assert at.selectbox(key="mon_pick").value == running
