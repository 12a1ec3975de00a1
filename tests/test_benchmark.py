"""Benchmark mode with real (small) training: members share one split, the ranking is best first
per key (positive-class F1 for one-vs-all, penalised cross-language mean), promote, the CLI and
the page. Members run in this process (run_session); only the CLI test starts workers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from apptest_support import demo_state
from streamlit.testing.v1 import AppTest

from arena_core.cli.main import main
from arena_core.data.demo import demo_options, demo_path
from arena_core.errors import ArenaError
from arena_core.run import benchmark as bm
from arena_core.run.benchmark_scores import job_score, mean_std, penalised_mean
from arena_core.run.worker import run_session
from arena_core.session.create import SessionSettings, prepare_from_file
from arena_core.session.manifest import SessionStatus, SplitSettings, TrainingConfig
from arena_core.session.strategy import ModelJob, Strategy
from arena_core.store import paths
from arena_core.store.records import read_report
from arena_core.store.session_store import SessionStore

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "benchmark.py")
DEMO_FLAGS = ["--text-col", "text", "--annotation-col", "annotation", "--lang-col", "lang"]


def _prepared(**settings):
    training = TrainingConfig(model="tfidf", epochs=1, batch_size=64, max_length=32)
    return prepare_from_file(
        demo_path(), demo_options(), SessionSettings(training=training, name="demo", **settings)
    )


def _trained(store: SessionStore, prepared, models, seeds) -> bm.Benchmark:
    bench = bm.create_benchmark(store, prepared, models, seeds)
    for member in bench.members:
        assert run_session(store, member.session_id) is SessionStatus.COMPLETED
    return bm.load_benchmark(store, bench.id)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """tfidf and tiny (1 epoch) x 2 seeds, with a test share; themes multi-label (2 models per
    session keeps tiny quick)."""
    store = SessionStore(tmp_path_factory.mktemp("mixed"))
    prepared = _prepared(
        strategies={"themes": "multi-label"}, split=SplitSettings(test_ratio=0.2, seed=3)
    )
    return store, _trained(store, prepared, ["tfidf", "tiny"], [1, 2])


@pytest.fixture(scope="module")
def per_language(tmp_path_factory):
    """tfidf x 2 seeds, one model per language and theme (one-vs-all), no test share."""
    store = SessionStore(tmp_path_factory.mktemp("per_language"))
    prepared = _prepared(strategies={"themes": "one-vs-all"}, per_language=True)
    return store, _trained(store, prepared, ["tfidf"], [1, 2])


def _reports(store, session_id):
    folder = store.session_dir(session_id)
    return [
        (job, read_report(paths.job_dir(folder, job.id))) for job in store.load(session_id).plan
    ]


# ---------------------------------------------------------------- the formulas, on numbers


def test_score_formulas_on_numbers():
    assert penalised_mean([0.8, 0.8]) == pytest.approx(0.8)
    # mean 0.7, population std 0.1, CV 1/7: penalty 0.2/7
    assert penalised_mean([0.8, 0.6]) == pytest.approx(0.7 * (1 - 0.2 / 7))
    assert penalised_mean([1.0, 0.0]) == pytest.approx(0.5 * 0.8)  # CV 1: capped at 20 %
    assert penalised_mean([0.0, 0.0]) == 0.0
    assert mean_std([0.5, 0.7]) == pytest.approx((0.6, math.sqrt(0.02)))  # sample std
    assert mean_std([0.5]) == (0.5, 0.0)
    job = ModelJob(
        id="t", key="themes", strategy=Strategy.ONE_VS_ALL, label="sports",
        labels=["not_sports", "sports"],
    )  # fmt: skip
    metrics = {"macro_f1": 0.9, "per_label": {"sports": {"f1": 0.4}, "not_sports": {"f1": 1}}}
    assert job_score(job, metrics) == 0.4
    assert job_score(job.model_copy(update={"strategy": Strategy.MULTI_CLASS}), metrics) == 0.9


# ---------------------------------------------------------------- create, find, rank


def test_members_share_one_split_and_carry_the_group(mixed):
    store, bench = mixed
    assert [(m.model, m.seed) for m in bench.members] == [
        ("tfidf", 1), ("tfidf", 2), ("tiny", 1), ("tiny", 2)
    ]  # fmt: skip
    manifests = [store.load(m.session_id) for m in bench.members]
    assert len({m.split.sha256 for m in manifests}) == 1
    assert len({m.dataset.snapshot_sha256 for m in manifests}) == 1
    for member, manifest in zip(bench.members, manifests, strict=True):
        assert (
            manifest.benchmark["id"] == bench.id
            and manifest.benchmark["member"] == member.session_id
        )
        assert manifest.training.model == member.model and manifest.training.seed == member.seed
        assert manifest.id == bench.id or manifest.parent == bench.id
    assert [b.id for b in bm.list_benchmarks(store)] == [bench.id]
    assert bench.name == "demo" and bench.count(bm.FINISHED) == 4 and not bench.running


def test_ranking_is_best_first_per_key_on_the_test_split(mixed):
    store, bench = mixed
    table = bm.ranking(store, bench.id)
    assert set(table) == {"sentiment", "themes"}
    for rows in table.values():
        assert [r["model"] for r in rows] and {r["model"] for r in rows} == {"tfidf", "tiny"}
        scores = [r["score_mean"] for r in rows]
        assert scores == sorted(scores, reverse=True)
        for row in rows:
            assert 0 <= row["score_mean"] <= 1 and row["score_std"] >= 0
            assert row["split"] == "test" and row["n_seeds"] == 2 and row["seconds"] > 0
            assert row["n_failed"] == row["n_pending"] == 0
    # sentiment is one multi-class model: its score is the mean test macro-F1 over the seeds
    for row in table["sentiment"]:
        f1s = [
            report.test_metrics["macro_f1"]
            for m in bench.members
            if m.model == row["model"]
            for job, report in _reports(store, m.session_id)
            if job.key == "sentiment"
        ]
        assert row["score_mean"] == pytest.approx(sum(f1s) / len(f1s))


def test_one_vs_all_uses_positive_f1_and_penalised_language_mean(per_language):
    store, bench = per_language
    (row,) = bm.ranking(store, bench.id)["themes"]
    assert row["split"] == "validation" and set(row["per_language"]) == {"EN", "FR"}
    expected, differs = [], False
    for member in bench.members:
        by_language: dict[str, list[float]] = {}
        for job, report in _reports(store, member.session_id):
            if job.key != "themes":
                continue
            assert job.strategy is Strategy.ONE_VS_ALL and job.labels[1] == job.label
            positive = report.metrics["per_label"][job.label]["f1"]
            differs |= positive != report.metrics["macro_f1"]
            by_language.setdefault(job.language, []).append(positive)
        means = [sum(v) / len(v) for _, v in sorted(by_language.items())]
        expected.append(penalised_mean(means))
    assert differs, "the positive-class F1 must be what is ranked, not the macro-F1"
    assert row["score_mean"] == pytest.approx(sum(expected) / len(expected))
    assert row["score_mean"] <= sum(row["per_language"].values()) / 2 + 1e-12


def test_unfinished_and_failed_members_are_counted_not_averaged(tmp_path):
    store = SessionStore(tmp_path / "home")
    bench = bm.create_benchmark(store, _prepared(), ["tfidf"], [1, 2, 3])
    first, second, _ = bench.members
    assert run_session(store, first.session_id) is SessionStatus.COMPLETED
    store.set_status(second.session_id, SessionStatus.FAILED, "test")
    for row in (rows[0] for rows in bm.ranking(store, bench.id).values()):
        assert (row["n_seeds"], row["n_failed"], row["n_pending"]) == (1, 1, 1)
        assert row["score_std"] == 0.0


def test_promote_trains_the_model_on_the_same_split(mixed):
    store, bench = mixed
    child_id = bm.promote(store, bench.id, "tiny", start=False)
    child = store.load(child_id)
    assert child.training.model == "tiny" and child.training.seed == 42
    assert child.parent == bench.id and child.benchmark is None and child.name == "demo"
    assert child.split.sha256 == bench.split_sha256
    assert len(bm.load_benchmark(store, bench.id).members) == 4  # not a member
    with pytest.raises(ArenaError, match="not a candidate"):
        bm.promote(store, bench.id, "minilm", start=False)
    store.trash(child_id)


# ---------------------------------------------------------------- CLI


def test_cli_benchmark_waits_and_prints_the_ranking(tmp_path, capsys):
    home = str(tmp_path / "home")
    argv = ["--home", home, "benchmark", str(demo_path()), *DEMO_FLAGS]
    code = main([*argv, "--models", "tfidf", "--seeds", "2", "--wait", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(out["ranking"]) == {"sentiment", "themes"} and out["members"]["finished"] == 2
    for rows in out["ranking"].values():
        assert [r["model"] for r in rows] == ["tfidf"]
        assert {"model", "score_mean", "score_std", "seconds"} <= set(rows[0])
        assert 0 <= rows[0]["score_mean"] <= 1 and rows[0]["n_seeds"] == 2
    assert main(["--home", home, "benchmark-show", out["id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ranking"] == out["ranking"]


def test_cli_refuses_a_bad_model_before_writing(tmp_path, capsys):
    home = tmp_path / "home"
    argv = ["--home", str(home), "benchmark", str(demo_path()), *DEMO_FLAGS]
    assert main([*argv, "--models", "tfidf,no-such-model", "--seeds", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "no-such-model" in err[0]
    assert main([*argv, "--models", "tfidf", "--seeds", "1"]) == 2  # nothing to compare
    assert not home.exists()


# ---------------------------------------------------------------- page


def test_page_empty_state_explains_and_shows_the_form(home):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("No benchmark yet" in info.value for info in at.info)
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in demo_state().items():
        at.session_state[key] = value
    at.run()
    assert not at.exception and at.button(key="bm_launch")
    assert at.multiselect(key="bm_models").value == ["tfidf", "tiny"]


def test_page_shows_a_finished_ranking(mixed, monkeypatch):
    store, bench = mixed
    monkeypatch.setenv("ARENA_HOME", str(store.home))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert at.selectbox(key="bm_pick").value == bench.id
    assert [s.value for s in at.subheader] == ["sentiment", "themes"]
    assert len(at.get("plotly_chart")) == 2
    assert any("4 of 4 sessions finished" in m.value for m in at.markdown)
    assert at.button(key="bm_promote_sentiment").label.startswith("Promote ")
    shown = " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.info])
    assert "None" not in shown and bench.id not in shown
