"""Predictor, PredictorCache and model_fingerprint on tiny models saved in code (no training),
and the prediction tables built from them (labels, probabilities, thresholds, export)."""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from arena_core.errors import ModelLoadError
from arena_core.session.strategy import ModelJob, Strategy
from arena_core.training.baseline_store import save_baseline
from arena_core.training.baselines import fit_baseline
from arena_core.training.models import load_classifier, load_tokenizer, resolve_model
from arena_core.training.predict import (
    Predictor,
    PredictorCache,
    load_count,
    model_fingerprint,
    predict_texts,
)
from arena_core.training.predict_table import ARGMAX, NO_LABEL, predict_session, prediction_table

TEXTS = ["great wonderful shop", "", "awful " * 300, "price staff", "ok", "x y z", None]
MULTI_CLASS = ModelJob(
    id="sentiment", key="sentiment", strategy=Strategy.MULTI_CLASS, labels=["neg", "neu", "pos"]
)
MULTI_LABEL = ModelJob(
    id="themes", key="themes", strategy=Strategy.MULTI_LABEL, labels=["price", "service"]
)


def _save(job: ModelJob, folder: Path, seed: int) -> Path:
    source = resolve_model("tiny")
    model = load_classifier(source, job, seed=seed)
    if job.strategy is Strategy.MULTI_LABEL:
        model.config.thresholds = {"price": 0.3, "service": 0.7}
    model.save_pretrained(folder)
    load_tokenizer(source).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        "multi_class": _save(MULTI_CLASS, root / "mc", seed=1),
        "multi_label": _save(MULTI_LABEL, root / "ml", seed=2),
    }


@pytest.fixture
def model_dir(saved, tmp_path) -> Path:
    """A private copy of the multi-class model, free to rewrite."""
    return Path(shutil.copytree(saved["multi_class"], tmp_path / "model"))


def _edit_config(model_dir: Path, **changes) -> None:
    path = model_dir / "config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, **changes}))


@pytest.mark.parametrize("kind", ["multi_class", "multi_label"])
def test_predictor_matches_predict_texts(saved, kind):
    predictor = Predictor.load(saved[kind])
    for batch_size in (2, 32):
        expected = predict_texts(saved[kind], TEXTS, batch_size=batch_size)
        assert predictor.predict(TEXTS, batch_size=batch_size) == expected
    assert predictor.predict([]) == []
    if kind == "multi_label":
        assert predictor.multi_label and predictor.thresholds == {"price": 0.3, "service": 0.7}
        assert all(set(r) == {"labels", "scores"} for r in expected)
    else:
        assert all(r["label"] in MULTI_CLASS.labels for r in expected)


def test_multi_label_thresholds_decide_the_labels(saved, tmp_path):
    folder = Path(shutil.copytree(saved["multi_label"], tmp_path / "ml"))
    for forced, expected in ((0.0, ["price", "service"]), (1.01, [])):
        _edit_config(folder, thresholds={"price": forced, "service": forced})
        assert [r["labels"] for r in Predictor.load(folder).predict(TEXTS)] == [expected] * 7


def test_fingerprint_is_stable_and_sees_every_kind_of_rewrite(model_dir, tmp_path):
    first = model_fingerprint(model_dir)
    assert model_fingerprint(model_dir) == first
    hash(first)  # usable as a cache key

    config = model_dir / "config.json"
    before = config.stat()
    content = config.read_text()
    config.write_text(content.replace('"neg"', '"NEG"'))  # same size, maybe the same mtime tick
    os.utime(config, ns=(before.st_atime_ns, before.st_mtime_ns))
    second = model_fingerprint(model_dir)
    assert second != first

    weights = model_dir / "model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # touched
    third = model_fingerprint(model_dir)
    assert third != second

    # The trainer's swap: a new folder renamed over the old one, byte-identical files.
    replacement = Path(shutil.copytree(model_dir, tmp_path / ".model.tmp"))
    shutil.rmtree(model_dir)
    os.replace(replacement, model_dir)
    assert model_fingerprint(model_dir) != third


def test_missing_or_damaged_models_raise_model_load_error(model_dir, tmp_path):
    with pytest.raises(ModelLoadError, match="no trained model"):
        model_fingerprint(tmp_path / "nowhere")
    with pytest.raises(ModelLoadError, match="no trained model"):
        predict_texts(tmp_path / "nowhere", ["x"])
    (model_dir / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelLoadError, match="Cannot load the model"):
        Predictor.load(model_dir)
    (model_dir / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="Cannot load the model"):
        Predictor.load(model_dir)


def test_cache_loads_once_and_reloads_a_rewritten_folder(model_dir):
    cache = PredictorCache()
    assert not cache.is_current(model_dir)
    loads = load_count()
    first = cache.get(model_dir)
    assert cache.get(model_dir) is first and load_count() == loads + 1
    assert cache.is_current(model_dir)

    _edit_config(model_dir, id2label={"0": "a", "1": "b", "2": "c"})
    assert not cache.is_current(model_dir)
    second = cache.get(model_dir)
    assert second is not first and load_count() == loads + 2 and len(cache) == 1
    assert second.labels == ["a", "b", "c"]
    assert {r["label"] for r in second.predict(TEXTS)} <= {"a", "b", "c"}

    shutil.rmtree(model_dir)  # session deleted: an error, and the stale model is dropped
    with pytest.raises(ModelLoadError):
        cache.get(model_dir)
    assert len(cache) == 0


def test_cache_keeps_to_its_memory_budget(saved):
    one = Predictor.load(saved["multi_class"]).nbytes
    assert one > 0
    cache = PredictorCache(max_bytes=one + one // 2)  # room for one tiny model only
    cache.get(saved["multi_class"])
    cache.get(saved["multi_label"])  # the older one is dropped
    assert len(cache) == 1 and cache.is_current(saved["multi_label"])
    assert not cache.is_current(saved["multi_class"])
    loads = load_count()
    cache.get(saved["multi_class"])
    assert load_count() == loads + 1

    roomy = PredictorCache()
    roomy.get(saved["multi_class"])
    roomy.get(saved["multi_label"])
    assert len(roomy) == 2


def test_threads_share_one_predictor(saved):
    """Browser tabs predict with the same cached model at once: same answers as one by one."""
    cache = PredictorCache()
    loads = load_count()
    expected = {
        n: Predictor.load(saved["multi_class"]).predict(TEXTS, max_length=n) for n in (8, 64)
    }
    answers: list[tuple[int, list]] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for _ in range(10):
                answers.append((n, cache.get(saved["multi_class"]).predict(TEXTS, max_length=n)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(8 if i % 2 else 64,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(answers) == 60 and all(result == expected[n] for n, result in answers)
    assert load_count() == loads + 2 + 1  # the two reference loads, then one shared load


# ---------------------------------------------------------------- prediction tables


class Fake:
    """A loaded model answering fixed probabilities per text (``Predictor.predict``'s shape)."""

    def __init__(self, job: ModelJob, rows: list[list[float]], thresholds=None):
        self.job, self.rows, self.thresholds = job, rows, dict(thresholds or {})

    def predict(self, texts, **options):
        assert len(texts) == len(self.rows)
        out = []
        for row in self.rows:
            scores = dict(zip(self.job.labels, row, strict=True))
            if self.job.strategy is Strategy.MULTI_LABEL:
                cut = {label: self.thresholds.get(label, 0.5) for label in scores}
                chosen = [lab for lab, p in scores.items() if p >= cut[lab]]
                out.append({"labels": chosen, "scores": scores})
            else:
                top = max(scores, key=scores.get)
                out.append({"label": top, "score": scores[top], "scores": scores})
        return out


def binary(label: str) -> ModelJob:
    return ModelJob(
        id=f"topics__{label}",
        key="topics",
        strategy=Strategy.ONE_VS_ALL,
        label=label,
        labels=[f"not_{label}", label],
    )


TWO = ["a text", "another text"]


def fakes() -> dict[str, Fake]:
    return {
        "sentiment": Fake(MULTI_CLASS, [[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]),
        "themes": Fake(
            MULTI_LABEL, [[0.35, 0.6], [0.25, 0.75]], thresholds={"price": 0.3, "service": 0.7}
        ),
        "topics__cars": Fake(binary("cars"), [[0.45, 0.55], [0.9, 0.1]]),
        "topics__food": Fake(binary("food"), [[0.5, 0.5], [0.4, 0.6]], thresholds={"food": 0.65}),
    }


def test_every_key_gets_its_predicted_labels_probabilities_and_thresholds():
    models = fakes()
    jobs = [m.job for m in models.values()]
    result = predict_session(jobs, TWO, lambda job: models[job.id])
    labels = result.labels
    assert list(labels.columns) == ["text", "sentiment", "themes", "topics"]
    # multi-class: the argmax label, never blank
    assert labels["sentiment"].tolist() == ["pos", "neg"]
    # multi-label: only the labels at or above their own threshold
    assert labels["themes"].tolist() == ["price", "service"]
    # one-vs-all: positive class vs the model's threshold (0.5, or the tuned 0.65 for food)
    assert labels["topics"].tolist() == ["cars", NO_LABEL]
    probabilities = result.probabilities
    assert probabilities["sentiment: P(pos)"].tolist() == [0.5, 0.1]
    assert probabilities["themes: P(service)"].tolist() == [0.6, 0.75]
    assert probabilities["topics: P(food)"].tolist() == [0.5, 0.6]
    assert "topics: P(not_food)" not in probabilities  # the negative class is no label
    decisions = result.decisions.set_index(["Key", "Label"])
    assert decisions.loc[("sentiment", "all labels"), "Decision"] == ARGMAX
    assert decisions.loc[("themes", "service"), "Threshold"] == "0.7"
    assert decisions.loc[("themes", "service"), "Threshold from"].startswith("tuned")
    assert decisions.loc[("topics", "cars"), "Threshold"] == "0.5"
    assert decisions.loc[("topics", "cars"), "Threshold from"] == "default"
    assert decisions.loc[("topics", "food"), "Threshold"] == "0.65"


def test_the_export_holds_predictions_probabilities_and_thresholds_with_readable_names():
    models = fakes()
    jobs = [m.job for m in models.values()]
    export = prediction_table(jobs, TWO, lambda job: models[job.id])
    assert list(export.columns) == [
        "text", "sentiment", "themes", "topics",
        "sentiment: P(neg)", "sentiment: P(neu)", "sentiment: P(pos)", "sentiment: decision",
        "themes: P(price)", "themes: P(service)",
        "themes: threshold(price)", "themes: threshold(service)",
        "topics: P(cars)", "topics: P(food)", "topics: threshold(cars)", "topics: threshold(food)",
    ]  # fmt: skip
    assert export["sentiment: decision"].tolist() == [ARGMAX] * 2
    assert export["themes: threshold(service)"].tolist() == [0.7, 0.7]
    assert export["topics: threshold(food)"].tolist() == [0.65, 0.65]
    # Both download formats keep every column and value.
    csv = pd.read_csv(io.StringIO(export.to_csv(index=False)))
    pd.testing.assert_frame_equal(csv, export, check_dtype=False)
    buffer = io.BytesIO()
    export.to_parquet(buffer, index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(buffer.getvalue())), export)


def test_no_text_and_no_label_read_as_words_not_blanks():
    empty = SimpleNamespace(thresholds={}, predict=lambda texts, **_: [])
    result = predict_session([MULTI_CLASS], [], lambda job: empty)
    assert result.labels.empty and list(result.labels.columns) == ["text", "sentiment"]
    assert list(result.probabilities.columns) == [
        "text",
        *(f"sentiment: P({x})" for x in MULTI_CLASS.labels),
    ]
    never = Fake(MULTI_LABEL, [[0.1, 0.2]], thresholds={"price": 0.5, "service": 0.5})
    assert predict_session([MULTI_LABEL], ["x"], lambda job: never).labels["themes"][0] == NO_LABEL


def test_real_models_predict_values_consistent_with_their_probabilities(saved):
    kinds = ((MULTI_CLASS, "multi_class"), (MULTI_LABEL, "multi_label"))
    predictors = {job.id: Predictor.load(saved[kind]) for job, kind in kinds}
    texts = [t for t in TEXTS if t]
    result = predict_session([MULTI_CLASS, MULTI_LABEL], texts, lambda job: predictors[job.id])
    probs = result.probabilities
    classes = [f"sentiment: P({label})" for label in MULTI_CLASS.labels]
    for i, value in enumerate(result.labels["sentiment"]):
        assert value in MULTI_CLASS.labels  # never blank
        assert value == MULTI_CLASS.labels[int(np.argmax(probs.loc[i, classes]))]
        assert abs(probs.loc[i, classes].sum() - 1) < 1e-5
    cut = {"price": 0.3, "service": 0.7}  # saved with the model (see _save)
    for i, value in enumerate(result.labels["themes"]):
        above = [lab for lab in MULTI_LABEL.labels if probs.loc[i, f"themes: P({lab})"] >= cut[lab]]
        assert value == ("; ".join(above) or NO_LABEL)
    export = result.export()
    assert export["themes: threshold(price)"].unique().tolist() == [0.3]
    # Options reach the models: texts cut at the session's training length.
    short = predict_session([MULTI_CLASS], texts, lambda job: predictors[job.id], max_length=8)
    expected = predictors["sentiment"].predict(texts, max_length=8)
    assert short.probabilities["sentiment: P(pos)"].tolist() == [
        r["scores"]["pos"] for r in expected
    ]


def test_a_baseline_model_predicts_like_any_model(tmp_path):
    """tfidf baselines (baseline.json + safetensors) load and predict through the same table."""
    words = {"pos": "great lovely", "neg": "awful bad", "neu": "plain normal"}
    texts = [f"{words[label]} text {i}" for i in range(30) for label in ("neg", "neu", "pos")]
    targets = np.array([i % 3 for i in range(90)])
    single = fit_baseline(
        "tfidf", "single", MULTI_CLASS.labels, texts[:60], targets[:60], texts[60:], targets[60:]
    )
    save_baseline(single.model, tmp_path / "mc")
    multi_targets = np.array([[i % 2, (i // 2) % 2] for i in range(90)])
    multi_texts = [
        f"{'price' if a else ''} {'service' if b else ''} row {i}"
        for i, (a, b) in enumerate(multi_targets)
    ]
    multi = fit_baseline(
        "tfidf",
        "multi",
        MULTI_LABEL.labels,
        multi_texts[:60],
        multi_targets[:60],
        multi_texts[60:],
        multi_targets[60:],
    )
    save_baseline(multi.model, tmp_path / "ml")
    models = {
        "sentiment": Predictor.load(tmp_path / "mc"),
        "themes": Predictor.load(tmp_path / "ml"),
    }
    result = predict_session(
        [MULTI_CLASS, MULTI_LABEL],
        ["great lovely day", "price and service"],
        lambda job: models[job.id],
    )
    assert result.labels["sentiment"][0] == "pos"
    assert "price" in result.labels["themes"][1] and "service" in result.labels["themes"][1]
    thresholds = result.export()[["themes: threshold(price)", "themes: threshold(service)"]]
    assert thresholds.iloc[0].tolist() == [
        multi.model.thresholds["price"],
        multi.model.thresholds["service"],
    ]
