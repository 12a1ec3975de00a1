"""Predictor, PredictorCache and model_fingerprint on tiny models saved in code (no training)."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from arena_core.errors import ModelLoadError
from arena_core.session.strategy import ModelJob, Strategy
from arena_core.training.models import load_classifier, load_tokenizer, resolve_model
from arena_core.training.predict import (
    Predictor,
    PredictorCache,
    load_count,
    model_fingerprint,
    predict_texts,
)

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
