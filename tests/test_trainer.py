"""Real training runs with the tiny model (seconds each); one slow test with MiniLM."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from factories import SENTIMENTS, make_split, tiny_config, trainer_table

from arena_core.errors import StrategyError, TrainingError
from arena_core.session.strategy import ModelJob, Strategy, negative_label
from arena_core.store import paths
from arena_core.store.metrics_log import MetricsWriter, read_metrics
from arena_core.training.evaluation import tune_thresholds
from arena_core.training.examples import job_examples
from arena_core.training.predict import predict_texts
from arena_core.training.tokens import Encoded, encode_texts_cached
from arena_core.training.trainer import (
    JobCancelled,
    latest_checkpoint,
    prepare_encodings,
    train_job,
)

THEMES = ["price", "service", "quality"]
KEYS = {"sentiment": SENTIMENTS, "themes": THEMES}


def trainer_config(**overrides):
    """``tiny_config`` trained harder (2 epochs at a high learning rate), so 120 rows learn."""
    values = {"epochs": 2, "learning_rate": 1e-3, "max_length": 64, "eval_batch_size": 64}
    return tiny_config(**{**values, **overrides})


MULTI_CLASS = ModelJob(
    id="sentiment__multi-class", key="sentiment", strategy=Strategy.MULTI_CLASS, labels=SENTIMENTS
)
MULTI_LABEL = ModelJob(
    id="themes__multi-label", key="themes", strategy=Strategy.MULTI_LABEL, labels=THEMES
)


def one_vs_all(label: str) -> ModelJob:
    return ModelJob(
        id=f"themes__one-vs-all__{label}",
        key="themes",
        strategy=Strategy.ONE_VS_ALL,
        label=label,
        labels=[negative_label(label), label],
    )


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The test machine's 2 cores are shared: 2 spinning torch threads there run the tiny model
    ~10x slower than 1 (measured), so these tests pin 1 thread and restore the default after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    table = trainer_table(120, KEYS, seed=0)
    return table, make_split(table, seed=0)


def job_records(path, job_id, kind=None):
    records, _ = read_metrics(path)
    return [r for r in records if r["job"] == job_id and (kind is None or r["kind"] == kind)]


def assert_steps_increase(records):
    for kind in ("train", "eval"):
        steps = [r["step"] for r in records if r["kind"] == kind]
        assert steps == sorted(set(steps)), f"{kind} steps repeat or go back: {steps}"


# ---------------------------------------------------------------- pure selection


def test_job_examples_per_strategy(data):
    table, split = data
    mc = job_examples(table, split, MULTI_CLASS)
    assert sum(mc.count(s) for s in ("train", "validation", "test")) == len(table)
    assert set(np.unique(mc.targets["train"])) == {0, 1, 2}
    ova = job_examples(table, split, one_vs_all("price"))
    positives = table["labels::themes"].map(lambda v: "price" in v).to_numpy()
    assert (ova.targets["train"] == positives[ova.indices["train"]]).all()
    ml = job_examples(table, split, MULTI_LABEL)
    assert ml.targets["train"].shape == (ml.count("train"), 3)
    french = ModelJob(**{**MULTI_CLASS.model_dump(), "id": "fr", "language": "FR"})
    fr = job_examples(table, split, french)
    assert (table["language"].to_numpy()[fr.indices["train"]] == "FR").all()
    # split given as a frame of row -> split, the way it is saved on disk
    frame = pd.DataFrame({"row": table["row"], "split": split.to_numpy()})
    assert (job_examples(table, frame, MULTI_CLASS).indices["test"] == mc.indices["test"]).all()


def test_multi_class_excludes_dropped_values_and_refuses_multi_valued_rows(data):
    table, split = data
    two = ModelJob(**{**MULTI_CLASS.model_dump(), "labels": ["positive", "negative"]})
    examples = job_examples(table, split, two)
    assert examples.excluded["dropped_label"] == sum(
        v == ["neutral"] for v in table["labels::sentiment"]
    )
    multi = ModelJob(id="t", key="themes", strategy=Strategy.MULTI_CLASS, labels=THEMES)
    with pytest.raises(StrategyError, match=r"several values \(rows \d+"):
        job_examples(table, split, multi)


def test_one_class_train_split_is_a_training_error(data):
    table, split = data
    with pytest.raises(TrainingError, match="same class"):
        job_examples(table, split, one_vs_all("absent-label"))
    only_val = pd.Series("validation", index=table.index)
    with pytest.raises(TrainingError, match="no example"):
        job_examples(table, only_val, MULTI_CLASS)


def test_tune_thresholds_finds_the_separating_cut():
    y = np.array([[1, 0], [1, 0], [0, 0], [0, 1]])
    probs = np.array([[0.3, 0.1], [0.35, 0.2], [0.2, 0.3], [0.1, 0.9]])
    thresholds = tune_thresholds(y, probs, ["a", "b"])
    assert 0.2 < thresholds["a"] <= 0.3 and 0.3 < thresholds["b"] <= 0.9


# ---------------------------------------------------------------- training runs


def test_multi_class_trains_reports_and_loads_in_a_pipeline(data, tmp_path):
    table, split = data
    metrics = MetricsWriter(tmp_path / paths.METRICS)
    progress = []
    out = tmp_path / "job"
    report = train_job(
        MULTI_CLASS,
        trainer_config(class_weights=True),
        table,
        split,
        out,
        metrics,
        on_progress=lambda step, total: progress.append((step, total)),
    )
    assert report.status == "completed" and report.best_epoch in (1, 2)
    assert report.n_train == 72 and report.n_validation == 24 and report.n_test == 24
    assert set(report.metrics["per_label"]) == set(SENTIMENTS)
    assert np.array(report.metrics["confusion_matrix"]).sum() == 24
    assert 0 <= report.metrics["macro_f1"] <= 1 and report.test_metrics["n"] == 24
    assert report.timings.samples_per_second > 0
    assert json.loads((out / paths.JOB_REPORT).read_text())["best_step"] == report.best_step
    assert not (out / paths.JOB_CHECKPOINT).exists()  # removed once the job completed
    assert progress[-1] == (report.global_step, report.global_step) == (10, 10)

    records = job_records(metrics.path, MULTI_CLASS.id)
    kinds = Counter(r["kind"] for r in records)
    # steps 1 (logging_first_step), 2, 4, 6, 8, 10
    assert kinds["eval"] == 2 and kinds["train"] == 6 and kinds["test"] == 1
    assert_steps_increase(records)
    assert all(r["val_loss"] > 0 and "per_label" in r for r in records if r["kind"] == "eval")

    from transformers import pipeline

    classify = pipeline("text-classification", model=str(out / paths.JOB_MODEL))
    assert classify("great wonderful shop")[0]["label"] in SENTIMENTS
    predicted = predict_texts(out / paths.JOB_MODEL, ["bad awful", "okay", ""])
    assert all(p["label"] in SENTIMENTS and 0 <= p["score"] <= 1 for p in predicted)


def test_encodings_are_cached_and_checked(data, tmp_path):
    table, _ = data
    config = trainer_config()
    cache = tmp_path / "tokens.npz"
    tokenizer, encoded = prepare_encodings(config, table["text"].tolist(), cache)
    assert cache.is_file() and len(encoded) == len(table)
    assert encoded.row(0)[0] == tokenizer.cls_token_id and max(encoded.lengths) <= 64
    loaded = Encoded.load(cache)
    assert loaded.rows() == encoded.rows() and loaded.fingerprint == encoded.fingerprint
    shorter = encode_texts_cached(tokenizer, table["text"].tolist(), 8, cache)
    assert max(shorter.lengths) == 8 and Encoded.load(cache).max_length == 8  # stale: rewritten
    long = trainer_config(max_length=4096)
    assert prepare_encodings(long, ["x"])[1].max_length == 512  # capped by the model


def test_one_vs_all_job_reuses_session_encodings(data, tmp_path):
    table, split = data
    job = one_vs_all("service")
    config = trainer_config(epochs=1)
    tokenizer, encoded = prepare_encodings(config, table["text"].tolist())
    report = train_job(
        job,
        config,
        table,
        split,
        tmp_path,
        MetricsWriter(tmp_path / "m.jsonl"),
        encoded=encoded,
        tokenizer=tokenizer,
    )
    assert report.metrics["labels"] == ["not_service", "service"]
    assert sum(report.train_class_counts.values()) == report.n_train
    assert predict_texts(tmp_path / paths.JOB_MODEL, ["staff"])[0]["label"] in job.labels


def test_multi_label_thresholds_are_saved_and_used(data, tmp_path):
    table, split = data
    report = train_job(
        MULTI_LABEL, trainer_config(), table, split, tmp_path, MetricsWriter(tmp_path / "m.jsonl")
    )
    thresholds = report.thresholds
    assert set(thresholds) == set(THEMES)
    assert all(0.05 <= t <= 0.95 for t in thresholds.values())
    config_path = tmp_path / paths.JOB_MODEL / "config.json"
    config = json.loads(config_path.read_text())
    assert config["thresholds"] == thresholds
    assert config["problem_type"] == "multi_label_classification"
    assert config["attention_probs_dropout_prob"] == 0.0  # TrainingConfig's default, applied
    assert "micro_f1" in report.metrics and "macro_f1_at_0.5" in report.metrics

    texts = ["price staff quality", "nothing here"]
    for forced, expected in ((0.0, THEMES), (1.01, [])):
        config["thresholds"] = dict.fromkeys(THEMES, forced)
        config_path.write_text(json.dumps(config))
        assert [p["labels"] for p in predict_texts(tmp_path / paths.JOB_MODEL, texts)] == [
            expected,
            expected,
        ]


def test_resume_continues_without_duplicated_steps(data, tmp_path):
    table, split = data
    config = trainer_config(epochs=3, logging_steps=1, checkpoint_every_steps=3)
    straight = train_job(
        MULTI_CLASS, config, table, split, tmp_path / "a", MetricsWriter(tmp_path / "a.jsonl")
    )
    assert straight.global_step == 15

    metrics = MetricsWriter(tmp_path / "b.jsonl")
    metrics.append({"kind": "train", "job": "other-job", "step": 99})

    def killed_at_8(step, total):
        if step == 8:
            raise RuntimeError("simulated kill")

    with pytest.raises(RuntimeError, match="simulated kill"):
        train_job(
            MULTI_CLASS, config, table, split, tmp_path / "b", metrics, on_progress=killed_at_8
        )
    checkpoint = latest_checkpoint(tmp_path / "b" / paths.JOB_CHECKPOINT)
    assert checkpoint is not None and checkpoint.name == "checkpoint-6"
    assert max(r["step"] for r in job_records(metrics.path, MULTI_CLASS.id)) == 7

    resumed = train_job(MULTI_CLASS, config, table, split, tmp_path / "b", metrics, resume=True)
    assert resumed.resumed_from_step == 6
    assert resumed.global_step == straight.global_step
    records = job_records(metrics.path, MULTI_CLASS.id)
    assert_steps_increase(records)
    assert [r["step"] for r in records if r["kind"] == "train"] == list(range(1, 16))
    assert [r["step"] for r in records if r["kind"] == "eval"] == [5, 10, 15]
    assert job_records(metrics.path, "other-job")  # other jobs' lines are kept


def test_should_stop_cancels_and_keeps_a_checkpoint(data, tmp_path):
    table, split = data
    steps = []

    def stop_after_3():
        return max(steps, default=0) >= 3

    with pytest.raises(JobCancelled):
        train_job(
            MULTI_CLASS,
            trainer_config(),
            table,
            split,
            tmp_path,
            MetricsWriter(tmp_path / "m.jsonl"),
            on_progress=lambda step, total: steps.append(step),
            should_stop=stop_after_3,
        )
    assert steps[-1] == 3
    assert latest_checkpoint(tmp_path / paths.JOB_CHECKPOINT).name == "checkpoint-3"
    assert not (tmp_path / paths.JOB_REPORT).exists()
    assert not job_records(tmp_path / "m.jsonl", MULTI_CLASS.id, "eval")  # no partial-epoch eval

    report = train_job(
        MULTI_CLASS,
        trainer_config(),
        table,
        split,
        tmp_path,
        MetricsWriter(tmp_path / "m.jsonl"),
        resume=True,
    )
    assert report.resumed_from_step == 3 and report.global_step == 10
    assert_steps_increase(job_records(tmp_path / "m.jsonl", MULTI_CLASS.id))


def test_early_stopping_and_no_validation_split(data, tmp_path):
    table, split = data
    frozen = trainer_config(epochs=4, learning_rate=1e-12, early_stopping_patience=1)
    report = train_job(
        MULTI_CLASS, frozen, table, split, tmp_path / "a", MetricsWriter(tmp_path / "a.jsonl")
    )
    assert report.stopped_early and report.best_epoch == 1 and report.global_step == 10

    no_validation = split.replace("validation", "train")
    report = train_job(
        MULTI_LABEL,
        trainer_config(epochs=1),
        table,
        no_validation,
        tmp_path / "b",
        MetricsWriter(tmp_path / "b.jsonl"),
    )
    assert report.n_validation == 0 and report.metrics is None
    assert report.thresholds == dict.fromkeys(THEMES, 0.5)
    assert report.test_metrics["n"] == 24
    assert len(predict_texts(tmp_path / "b" / paths.JOB_MODEL, ["price"])) == 1


@pytest.mark.slow
def test_minilm_beats_the_majority_baseline(tmp_path):
    table = trainer_table(300, KEYS, seed=1)
    split = make_split(table, seed=1)
    config = trainer_config(model="minilm", epochs=2, learning_rate=5e-5, logging_steps=5)
    report = train_job(
        MULTI_CLASS, config, table, split, tmp_path, MetricsWriter(tmp_path / "m.jsonl")
    )
    val_truth = job_examples(table, split, MULTI_CLASS).targets["validation"]
    majority_share = np.bincount(val_truth).max() / len(val_truth)
    baseline_macro_f1 = (2 * majority_share / (1 + majority_share)) / len(SENTIMENTS)
    print("MiniLM:", report.metrics["macro_f1"], baseline_macro_f1, report.timings)
    assert report.metrics["macro_f1"] > baseline_macro_f1 + 0.2
