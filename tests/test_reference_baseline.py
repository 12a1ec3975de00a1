"""The tf-idf reference score of a fine-tune: unchanged on small sets, bounded on big ones."""

from __future__ import annotations

import pytest
from factories import SENTIMENTS, make_split, trainer_table

from arena_core.session.strategy import ModelJob, Strategy
from arena_core.training import baseline_job
from arena_core.training.baseline_features import TfidfFeatures
from arena_core.training.baseline_job import reference_score
from arena_core.training.examples import job_examples

JOB = ModelJob(
    id="sentiment__multi-class", key="sentiment", strategy=Strategy.MULTI_CLASS, labels=SENTIMENTS
)


@pytest.fixture(scope="module")
def rows():
    table = trainer_table(200, {"sentiment": SENTIMENTS}, seed=3)
    return table, job_examples(table, make_split(table, seed=3), JOB)


def test_small_sets_are_fitted_on_every_row_as_before(rows, monkeypatch):
    table, examples = rows
    bounded = reference_score(JOB, table, examples, seed=5)
    monkeypatch.setattr(baseline_job, "REFERENCE_MAX_ROWS", 10**9)
    monkeypatch.setattr(baseline_job, "REFERENCE_MAX_WEIGHTS", 10**12)
    unbounded = reference_score(JOB, table, examples, seed=5)
    assert bounded["fitted_rows"] == examples.count("train") == unbounded["fitted_rows"]
    assert bounded["features"] == unbounded["features"]
    assert bounded["macro_f1"] == unbounded["macro_f1"]


def test_big_sets_are_fitted_on_a_seeded_sample(rows, monkeypatch):
    table, examples = rows
    monkeypatch.setattr(baseline_job, "REFERENCE_MAX_ROWS", 60)
    first = reference_score(JOB, table, examples, seed=5)
    again = reference_score(JOB, table, examples, seed=5)
    other = baseline_job._reference_sample(examples.count("train"), seed=6)
    assert first["fitted_rows"] == 60 and first["macro_f1"] == again["macro_f1"]
    assert len(other) == 60 and sorted(set(other)) == list(other)
    assert (baseline_job._reference_sample(examples.count("train"), 5) != other).any()


def test_weights_bound_the_features(rows, monkeypatch):
    table, examples = rows
    monkeypatch.setattr(baseline_job, "REFERENCE_MAX_WEIGHTS", 3 * 400)  # 3 classes
    capped = reference_score(JOB, table, examples, seed=5)
    assert 0 < capped["features"] <= 400
    texts = table["text"].tolist()
    features, x = TfidfFeatures.fit(texts, max_features=100)
    assert features.n_features <= 100 and x.shape[1] == features.n_features
    assert TfidfFeatures.fit(texts)[0].n_features > 100  # no bound without the argument
