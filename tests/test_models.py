"""Model resolution is offline-only: packaged MiniLM, tiny, local folders, cached hub ids."""

from __future__ import annotations

import time

import pytest

from arena_core.errors import ModelLoadError
from arena_core.session.strategy import ModelJob, Strategy
from arena_core.training.models import (
    load_classifier,
    load_tokenizer,
    packaged_model_path,
    resolve_model,
)

JOB = ModelJob(id="k", key="k", strategy=Strategy.MULTI_LABEL, labels=["a", "b", "c"])


def test_aliases_resolve_to_the_packaged_model():
    for name in ("minilm", "default", "all-MiniLM-L6-v2"):
        source = resolve_model(name)
        assert source.kind == "packaged" and source.path == packaged_model_path()


def test_tiny_builds_offline_seeded():
    source = resolve_model("tiny")
    assert source.kind == "tiny"
    first = load_classifier(source, JOB, seed=3)
    second = load_classifier(source, JOB, seed=3)
    assert first.config.hidden_size == 32 and first.config.num_hidden_layers == 2
    assert first.config.num_labels == 3 and first.config.id2label[2] == "c"
    assert first.config.problem_type == "multi_label_classification"
    w1, w2 = first.classifier.weight, second.classifier.weight
    assert w1.shape == (3, 32) and bool((w1 == w2).all())
    assert load_tokenizer(source)("hello world")["input_ids"][0] == 101  # MiniLM's [CLS]


def test_unknown_hub_id_fails_fast():
    start = time.perf_counter()
    with pytest.raises(ModelLoadError, match="not available offline"):
        resolve_model("some-org/surely-not-cached-model-xyz")
    assert time.perf_counter() - start < 5


def test_invalid_names():
    with pytest.raises(ModelLoadError):
        resolve_model("")
    with pytest.raises(ModelLoadError):
        resolve_model("not a valid // id")
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_model("./no/such/folder")


def test_local_folder_needs_config_and_an_allowed_root(tmp_path):
    allowed = tmp_path / "models"
    folder = allowed / "mine"
    folder.mkdir(parents=True)
    with pytest.raises(ModelLoadError, match="config.json"):
        resolve_model(str(folder))
    (folder / "config.json").write_text("{}")
    assert resolve_model(str(folder), allowed_roots=[allowed]).kind == "local"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="outside the allowed"):
        resolve_model(str(outside), allowed_roots=[allowed])
    sneaky = str(allowed / ".." / "elsewhere")
    with pytest.raises(ModelLoadError, match="outside the allowed"):
        resolve_model(sneaky, allowed_roots=[allowed])


@pytest.mark.parametrize(("setting", "expected"), [(0.0, 0.0), (0.3, 0.3), (None, 0.1)])
def test_attention_dropout_reaches_every_attention_layer(setting, expected):
    """0 by default (PyTorch's fused attention kernel on CPU); None keeps the model's 0.1."""
    model = load_classifier(resolve_model("tiny"), JOB, attention_dropout=setting)
    assert model.config.attention_probs_dropout_prob == expected
    assert model.config.hidden_dropout_prob == 0.1  # hidden-layer dropout is left alone
    for layer in model.bert.encoder.layer:
        assert layer.attention.self.dropout.p == expected


def test_attention_dropout_applies_to_pretrained_models_keeping_the_new_head():
    model = load_classifier(resolve_model("minilm"), JOB, attention_dropout=0.0)
    assert model.config.attention_probs_dropout_prob == 0.0
    assert model.config.num_labels == 3 and model.config.id2label[1] == "b"
    assert model.config.problem_type == "multi_label_classification"
    assert model.bert.encoder.layer[5].attention.self.dropout.p == 0.0
