"""Baseline classifiers (tf-idf / frozen embeddings + logistic regression), trained for real on
small texts built here: words of a topic go with its label, plus filler, typos and label noise."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from arena_core.errors import ModelLoadError, TrainingError
from arena_core.training.baseline_store import load_baseline, save_baseline
from arena_core.training.baselines import (
    C_GRID,
    BaselineModel,
    fit_baseline,
    is_baseline,
)
from arena_core.training.evaluation import THRESHOLD_GRID, classification_metrics

ROOT = Path(__file__).resolve().parent.parent


def _words(text: str) -> list[str]:
    return text.split()


TOPICS = {
    "sport": _words("match team goal player coach season league score referee stadium"),
    "finance": _words("bank market stock price investor profit trade budget interest revenue"),
    "health": _words("doctor patient hospital vaccine disease treatment nurse symptom medicine"),
    "food": _words("recipe cook meal kitchen bread cheese dinner restaurant flavor sauce"),
}
LABELS = list(TOPICS)
FILLER = _words(
    "the a of and to in is it that was for on with as this at by from they we said new "
    "year people time day today week report news city local plan very more some about"
)


def _text(rng: random.Random, topics: list[str]) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(5, 10))]
    for topic in topics:
        words += [rng.choice(TOPICS[topic]) + rng.choice(["", "", "s"]) for _ in range(2)]
    words.append(rng.choice(TOPICS[rng.choice(LABELS)]))  # a distractor from any topic
    rng.shuffle(words)
    return " ".join(words)


def single_rows(n: int, seed: int, labels=LABELS, weights=None, noise=0.05):
    rng = random.Random(seed)
    texts, targets = [], []
    for _ in range(n):
        c = rng.choices(range(len(labels)), weights=weights)[0]
        texts.append(_text(rng, [labels[c]]))
        targets.append(rng.randrange(len(labels)) if rng.random() < noise else c)
    return texts, np.array(targets)


def multi_rows(n: int, seed: int):
    rng = random.Random(seed)
    texts, targets = [], []
    for _ in range(n):
        row = [int(rng.random() < 0.35) for _ in LABELS]
        texts.append(_text(rng, [lab for lab, on in zip(LABELS, row, strict=True) if on]))
        targets.append(row)
    return texts, np.array(targets)


def macro_f1(y, pred, labels) -> float:
    return classification_metrics(y, pred, labels)["macro_f1"]


def multi_macro_f1(y, pred) -> float:
    tp = (y & pred).sum(0)
    return float(np.mean(2 * tp / np.maximum(2 * tp + (pred & ~y).sum(0) + (y & ~pred).sum(0), 1)))


@pytest.fixture(scope="module")
def single_fit():
    texts, y = single_rows(420, seed=1)
    stages: list[tuple[str, float]] = []
    result = fit_baseline(
        "tfidf",
        "single",
        LABELS,
        texts[:240],
        y[:240],
        texts[240:300],
        y[240:300],
        seed=3,
        progress=lambda stage, fraction: stages.append((stage, fraction)),
    )
    return result, texts[300:], y[300:], stages


@pytest.fixture(scope="module")
def multi_fit():
    texts, y = multi_rows(400, seed=2)
    result = fit_baseline(
        "tfidf", "multi", LABELS, texts[:240], y[:240], texts[240:300], y[240:300]
    )
    return result, texts[300:], y[300:]


def test_names():
    assert is_baseline("tfidf") and is_baseline(" TFIDF ") and is_baseline("embed:minilm")
    assert is_baseline("embed:")  # a baseline, refused by fit_baseline with a clear message
    assert not is_baseline("minilm") and not is_baseline("tiny") and not is_baseline("")


def test_tfidf_single_learns_and_reports_progress(single_fit):
    result, texts, y, stages = single_fit
    model = result.model
    assert isinstance(model, BaselineModel) and model.task == "single" and model.labels == LABELS
    assert result.chosen_c in C_GRID and result.chosen_c == model.chosen_c and result.seconds > 0
    assert model.thresholds is None
    probs = model.predict_proba(texts)
    assert probs.shape == (len(texts), len(LABELS))
    assert np.allclose(probs.sum(axis=1), 1.0)
    pred = model.predict(texts)
    assert pred.dtype == np.int64 and np.array_equal(pred, probs.argmax(axis=1))
    assert macro_f1(y, pred, LABELS) > 0.75  # chance: 0.25
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and stages[-1] == ("done", 1.0)
    assert model.predict_proba([]).shape == (0, len(LABELS))


def test_tfidf_binary_one_vs_all_on_imbalanced_rows():
    labels = ["other", "health"]
    rng = random.Random(5)
    texts, y = [], []
    for _ in range(360):
        positive = rng.random() < 0.15
        topic = "health" if positive else rng.choice(["sport", "finance", "food"])
        texts.append(_text(rng, [topic]))
        y.append(int(positive))
    y = np.array(y)
    result = fit_baseline(
        "tfidf", "single", labels, texts[:200], y[:200], texts[200:260], y[200:260]
    )
    pred = result.model.predict(texts[260:])
    probs = result.model.predict_proba(texts[260:])
    assert probs.shape == (100, 2) and np.allclose(probs.sum(axis=1), 1.0)
    positive_f1 = classification_metrics(y[260:], pred, labels)["per_label"]["health"]["f1"]
    assert positive_f1 > 0.7


def test_tfidf_multi_label_tunes_thresholds(multi_fit):
    result, texts, y = multi_fit
    model = result.model
    assert model.task == "multi" and set(model.thresholds) == set(LABELS)
    assert all(t in THRESHOLD_GRID for t in model.thresholds.values())
    probs = model.predict_proba(texts)
    assert probs.shape == y.shape and ((probs >= 0) & (probs <= 1)).all()
    pred = model.predict(texts)
    cut = np.array([model.thresholds[lab] for lab in LABELS])
    assert np.array_equal(pred, (probs >= cut).astype(np.int64))
    assert multi_macro_f1(y.astype(bool), pred.astype(bool)) > 0.7  # all-ones guess: ~0.5


def test_multi_without_validation_uses_half_and_constant_labels_do_not_crash():
    texts, y = multi_rows(160, seed=4)
    y[:, 2] = 0  # 'health' never on in train
    y[:, 3] = 1  # 'food' always on
    result = fit_baseline("tfidf", "multi", LABELS, texts, y)
    assert result.model.thresholds == {lab: 0.5 for lab in LABELS}
    assert result.chosen_c == 4.0
    pred = result.model.predict(["doctor hospital vaccine", "bank market stock"])
    assert pred[:, 2].tolist() == [0, 0] and pred[:, 3].tolist() == [1, 1]


def test_single_with_a_class_missing_from_train_never_predicts_it():
    texts, y = single_rows(200, seed=6, labels=LABELS[:3], noise=0)
    labels = [*LABELS[:3], "unseen"]
    model = fit_baseline("tfidf", "single", labels, texts, y).model
    probs = model.predict_proba(texts[:20])
    assert probs.shape == (20, 4) and probs[:, 3].max() < 1e-12 and 3 not in model.predict(texts)


def test_fit_is_deterministic():
    texts, y = single_rows(120, seed=7)
    one = fit_baseline("tfidf", "single", LABELS, texts[:90], y[:90], texts[90:], y[90:], seed=1)
    two = fit_baseline("tfidf", "single", LABELS, texts[:90], y[:90], texts[90:], y[90:], seed=1)
    assert one.chosen_c == two.chosen_c
    assert np.array_equal(one.model.coef, two.model.coef)


def _assert_no_pickle(folder: Path) -> None:
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["baseline.json", "baseline.safetensors"]
    for path in folder.iterdir():
        assert not path.read_bytes().startswith(b"\x80")
        assert path.suffix not in (".pkl", ".pickle", ".joblib")


@pytest.mark.parametrize("which", ["single", "multi"])
def test_tfidf_round_trip_predicts_the_same(which, single_fit, multi_fit, tmp_path):
    result, texts = (single_fit if which == "single" else multi_fit)[:2]
    model = result.model
    save_baseline(model, tmp_path / "b")
    _assert_no_pickle(tmp_path / "b")
    meta = json.loads((tmp_path / "b" / "baseline.json").read_text())
    assert meta["kind"] == "tfidf" and meta["labels"] == LABELS and meta["vectorizers"]
    loaded = load_baseline(tmp_path / "b")
    assert (loaded.task, loaded.labels, loaded.model_name) == (which, LABELS, "tfidf")
    assert loaded.thresholds == model.thresholds and loaded.chosen_c == model.chosen_c
    unseen = [*texts, "", "zzz qqq never seen words", "Doctor HOSPITAL!! vaccines..."]
    assert np.allclose(loaded.predict_proba(unseen), model.predict_proba(unseen), atol=1e-6)
    assert np.array_equal(loaded.predict(unseen), model.predict(unseen))


def test_damaged_or_missing_files_raise_model_load_error(single_fit, tmp_path):
    model = single_fit[0].model
    folder = tmp_path / "b"
    save_baseline(model, folder)
    tensors = folder / "baseline.safetensors"
    good = tensors.read_bytes()
    tampered = bytearray(good)
    tampered[-5] ^= 0xFF
    tensors.write_bytes(bytes(tampered))
    with pytest.raises(ModelLoadError, match="does not match baseline.json.*train it again"):
        load_baseline(folder)
    tensors.unlink()
    with pytest.raises(ModelLoadError, match="baseline.safetensors is missing"):
        load_baseline(folder)
    tensors.write_bytes(good)
    (folder / "baseline.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="cannot read it"):
        load_baseline(folder)
    with pytest.raises(ModelLoadError, match="baseline.json is missing"):
        load_baseline(tmp_path / "nothing-here")


def test_tampered_json_that_keeps_the_hash_is_refused(single_fit, tmp_path):
    folder = tmp_path / "b"
    save_baseline(single_fit[0].model, folder)
    meta = json.loads((folder / "baseline.json").read_text())
    meta["labels"] = meta["labels"][:2]
    (folder / "baseline.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="do not fit 2 labels"):
        load_baseline(folder)
    meta["format_version"] = 99
    (folder / "baseline.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="format version 99"):
        load_baseline(folder)


@pytest.mark.parametrize(
    ("name", "task", "labels", "texts", "targets", "message"),
    [
        ("tfidf", "single", LABELS, [], [], "No training rows"),
        ("tfidf", "single", LABELS, ["a b", "c d"], [1, 1], "needs at least two classes"),
        ("tfidf", "single", ["only"], ["a", "b"], [0, 0], "at least 2"),
        ("tfidf", "single", LABELS, ["a", "b"], [0, 1, 2], r"shape \(3,\) for 2 texts"),
        ("tfidf", "single", LABELS, ["a", "b"], [0, 7], r"class indices 0\.\.3"),
        ("tfidf", "multi", LABELS, ["a", "b"], [[0, 1], [1, 0]], r"needs \(2, 4\)"),
        ("tfidf", "multi", LABELS[:2], ["a", "b"], [[0, 2], [1, 0]], "must be 0 or 1"),
        ("tfidf", "both", LABELS, ["a", "b"], [0, 1], "Unknown task 'both'"),
        ("tfidf", "single", ["x", "x"], ["a", "b"], [0, 1], "must be distinct"),
        ("embed:", "single", LABELS, ["a", "b"], [0, 1], "names no model"),
        ("foo", "single", LABELS, ["a", "b"], [0, 1], "Unknown baseline 'foo'"),
        ("tfidf", "single", LABELS, ["...", "!!"], [0, 1], "no usable words"),
    ],
)
def test_bad_input_raises_training_error(name, task, labels, texts, targets, message):
    with pytest.raises(TrainingError, match=message):
        fit_baseline(name, task, labels, texts, np.array(targets))


def test_validation_targets_are_checked_too():
    texts, y = single_rows(40, seed=8)
    with pytest.raises(TrainingError, match="validation texts have no targets"):
        fit_baseline("tfidf", "single", LABELS, texts, y, val_texts=texts[:5])


def test_unresolvable_embed_model_raises_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        fit_baseline("embed:" + str(tmp_path / "missing"), "single", LABELS, ["a", "b"], [0, 1])


def test_embed_tiny_shapes_thresholds_and_round_trip(tmp_path):
    import torch

    texts, y = multi_rows(90, seed=9)
    torch.manual_seed(123)
    before = torch.rand(3)
    result = fit_baseline("embed:tiny", "multi", LABELS, texts[:50], y[:50], texts[50:70], y[50:70])
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), before)  # the fixed tiny seed left the caller's RNG alone
    model = result.model
    probs = model.predict_proba(texts[70:])
    assert probs.shape == (20, len(LABELS)) and model.coef.shape == (len(LABELS), 32)
    assert set(model.thresholds) == set(LABELS)
    save_baseline(model, tmp_path / "e")
    _assert_no_pickle(tmp_path / "e")
    meta = json.loads((tmp_path / "e" / "baseline.json").read_text())
    assert meta["embed_model"] == "tiny" and meta["max_length"] == 256
    assert "/" not in json.dumps({k: v for k, v in meta.items() if k != "tensors_sha256"})
    loaded = load_baseline(tmp_path / "e")
    assert np.allclose(loaded.predict_proba(texts[70:]), probs, atol=1e-6)
    assert np.array_equal(loaded.predict(texts[70:]), model.predict(texts[70:]))

    texts, y = single_rows(60, seed=10)
    single = fit_baseline("embed:tiny", "single", LABELS, texts[:40], y[:40]).model
    probs = single.predict_proba(texts[40:])
    assert probs.shape == (20, len(LABELS)) and np.allclose(probs.sum(axis=1), 1.0)
    again = fit_baseline("embed:tiny", "single", LABELS, texts[:40], y[:40]).model
    assert np.array_equal(again.predict_proba(texts[40:]), probs)  # same random encoder


def test_baselines_module_imports_no_heavy_library():
    script = (
        "import sys\n"
        "import arena_core.training.baselines, arena_core.training.baseline_store\n"
        "print(sorted(m for m in ('torch','transformers','sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_embed_minilm_learns_from_sixty_texts(tmp_path):
    texts, y = single_rows(100, seed=11, noise=0)
    result = fit_baseline("embed:minilm", "single", LABELS, texts[:60], y[:60])
    pred = result.model.predict(texts[60:])
    assert macro_f1(y[60:], pred, LABELS) > 0.7
    save_baseline(result.model, tmp_path / "m")
    loaded = load_baseline(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "baseline.json").read_text())["embed_model"] == "minilm"
    assert np.allclose(loaded.predict_proba(texts[60:]), result.model.predict_proba(texts[60:]))
