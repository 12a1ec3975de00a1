"""Baseline model kinds end to end: a session with model 'tfidf' (or 'embed:tiny') trains in the
real worker for multi-class, one-vs-all and multi-label keys, saves no pickle, predicts, and
relaunches like any session; every fine-tune reports the tfidf baseline beside its score."""

from __future__ import annotations

import json

import pytest

from arena_core.data.demo import demo_options, demo_path
from arena_core.errors import ArenaError
from arena_core.run.worker import run_session
from arena_core.session.create import (
    SessionSettings,
    create_session,
    prepare_from_file,
)
from arena_core.session.manifest import SessionStatus, TrainingConfig
from arena_core.session.relaunch import create_relaunch
from arena_core.store import paths
from arena_core.store.session_store import SessionStore
from arena_core.training.job_runner import check_model
from arena_core.training.predict import Predictor, predict_texts

HYBRID = {"sentiment": "multi-class", "themes": "one-vs-all"}


def _session(store, model: str, strategies: dict[str, str], **training) -> str:
    settings = SessionSettings(
        strategies=strategies, training=TrainingConfig(model=model, **training), name=model
    )
    return create_session(store, prepare_from_file(demo_path(), demo_options(), settings)).id


def _reports(store, session_id: str) -> dict[str, dict]:
    folder = store.session_dir(session_id)
    return {
        job.id: json.loads((paths.job_dir(folder, job.id) / paths.JOB_REPORT).read_text())
        for job in store.load(session_id).plan
    }


@pytest.mark.parametrize(
    "strategies",
    [HYBRID, {"sentiment": "multi-class", "themes": "multi-label"}],
    ids=["multi-class+one-vs-all", "multi-class+multi-label"],
)
def test_tfidf_session_trains_every_strategy_and_predicts(tmp_path, strategies):
    store = SessionStore(tmp_path / "home")
    session_id = _session(store, "tfidf", strategies)
    assert run_session(store, session_id) is SessionStatus.COMPLETED
    reports = _reports(store, session_id)
    assert reports and all(r["status"] == "completed" for r in reports.values())
    sentiment = reports["sentiment__multi-class"]
    assert sentiment["metrics"]["macro_f1"] > 0.5  # the demo words carry the sentiment
    folder = store.session_dir(session_id)
    for job_id in reports:
        model_dir = paths.job_dir(folder, job_id) / paths.JOB_MODEL
        assert not [p for p in model_dir.iterdir() if p.suffix in (".pkl", ".joblib")]
        assert all(not p.read_bytes().startswith(b"\x80") for p in model_dir.iterdir())
    lines = (folder / paths.METRICS).read_text().splitlines()
    kinds = {json.loads(line)["kind"] for line in lines}
    assert {"train", "eval"} <= kinds  # Monitor and Compare have points to draw

    model_dir = paths.job_dir(folder, "sentiment__multi-class") / paths.JOB_MODEL
    result = predict_texts(model_dir, ["An excellent success, we are delighted."])[0]
    assert result["label"] in {"positive", "negative", "neutral"}
    assert sum(result["scores"].values()) == pytest.approx(1.0)
    if "themes__multi-label" in reports:
        predictor = Predictor.load(paths.job_dir(folder, "themes__multi-label") / paths.JOB_MODEL)
        out = predictor.predict(["News about the vaccine and the hospital."])[0]
        assert set(out["scores"]) == {"economy", "health", "environment", "sports"}
        assert set(out["labels"]) <= set(out["scores"])


def test_baseline_session_relaunches_with_another_model(tmp_path):
    store = SessionStore(tmp_path / "home")
    parent = _session(store, "tfidf", HYBRID)
    assert run_session(store, parent) is SessionStatus.COMPLETED
    child = create_relaunch(store, parent, {"model": "embed:tiny"})
    assert [j.id for j in child.plan] == [j.id for j in store.load(parent).plan]
    assert run_session(store, child.id) is SessionStatus.COMPLETED
    assert all(r["config"]["model"] == "embed:tiny" for r in _reports(store, child.id).values())


def test_fine_tune_reports_the_tfidf_baseline_beside_its_score(tmp_path):
    store = SessionStore(tmp_path / "home")
    session_id = _session(
        store, "tiny", {"sentiment": "multi-class", "themes": "multi-label"}, epochs=1
    )
    assert run_session(store, session_id) is SessionStatus.COMPLETED
    for report in _reports(store, session_id).values():
        assert report["baseline"]["model"] == "tfidf"
        assert 0.0 <= report["baseline"]["macro_f1"] <= 1.0
        assert report["budget"]["epochs"] == 1


@pytest.mark.parametrize("bad", ["embed:", "embed:no-such-model-here", "tfidf:x"])
def test_unusable_baseline_names_are_refused_before_anything_is_written(bad):
    with pytest.raises(ArenaError):
        check_model(bad)


def test_cli_new_trains_a_baseline_session(tmp_path, capsys):
    from arena_core.cli.main import main

    data = str(demo_path())
    args = ["--home", str(tmp_path / "home"), "new", data, "--text-col", "text"]
    args += ["--annotation-col", "annotation", "--lang-col", "lang", "--model", "tfidf"]
    assert main([*args, "--dry-run"]) == 0
    assert "would train" in capsys.readouterr().out
