"""The flat token ids and their collator give exactly what the list-based path gave before.

The old path (kept here as the reference): each row's ids as a Python list, targets as Python
values, transformers' ``DataCollatorWithPadding``. Both paths run in each test; nothing is
compared against hard-coded numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from factories import SENTIMENTS, make_split, tiny_config, trainer_table
from transformers import DataCollatorWithPadding

from arena_core.session.strategy import ModelJob, Strategy
from arena_core.store.metrics_log import MetricsWriter, read_metrics
from arena_core.training import tokens, trainer
from arena_core.training.batches import PadCollator
from arena_core.training.hf_loop import EncodedSplit
from arena_core.training.models import load_tokenizer, resolve_model
from arena_core.training.tokens import Encoded, encode_texts

TEXTS = [
    "Short one.",
    "",
    "A somewhat longer text, with punctuation; and UNUSUAL casing — plus ünïcödé.",
    "word " * 200,  # truncated at max_length
    "Two words",
    "Tokenizers split unbelievably long compound words into many word pieces.",
    "   ",
]


class OldCollator:
    """The previous path: rows and targets as Python lists into DataCollatorWithPadding."""

    def __init__(self, tokenizer, pad_to_multiple_of=None):
        self.inner = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def __call__(self, features):
        return self.inner(
            [
                {"input_ids": np.asarray(f["input_ids"]).tolist(), "labels": _py(f["labels"])}
                for f in features
            ]
        )


def _py(value):
    return np.asarray(value).tolist()


@pytest.fixture(scope="module", params=["minilm", "tiny"])
def tokenizer(request):
    return load_tokenizer(resolve_model(request.param))


def old_ids(tokenizer, texts, max_length):
    out = tokenizer(texts, truncation=True, max_length=max_length, padding=False)
    return [list(ids) for ids in out["input_ids"]]


def test_flat_ids_equal_the_tokenizer_lists_across_chunks(tokenizer, monkeypatch):
    monkeypatch.setattr(tokens, "_CHUNK", 3)  # several chunks, one partial
    encoded = encode_texts(tokenizer, TEXTS, 32)
    assert encoded.rows() == old_ids(tokenizer, TEXTS, 32)
    assert encoded.ids.dtype == np.int32 and encoded.offsets.dtype == np.int64
    assert encoded.lengths.tolist() == [len(r) for r in old_ids(tokenizer, TEXTS, 32)]
    view = encoded.row(2)
    assert view.base is encoded.ids or view.base is encoded.ids.base  # a view, not a copy


def test_npz_round_trip_keeps_ids_offsets_and_fingerprint(tokenizer, tmp_path):
    encoded = encode_texts(tokenizer, TEXTS, 16)
    encoded.save(tmp_path / "t.npz")
    loaded = Encoded.load(tmp_path / "t.npz")
    assert np.array_equal(loaded.ids, encoded.ids)
    assert np.array_equal(loaded.offsets, encoded.offsets)
    assert (loaded.max_length, loaded.fingerprint) == (16, encoded.fingerprint)
    assert loaded.rows() == encoded.rows()


def test_empty_input_and_bad_offsets():
    empty = Encoded.from_lists([], 8)
    assert len(empty) == 0 and empty.lengths.tolist() == []
    with pytest.raises(ValueError):
        Encoded(np.arange(3), np.array([0, 2]), 8)


@pytest.mark.parametrize("multiple", [None, 8])
@pytest.mark.parametrize("kind", ["class", "binary", "multi-label"])
def test_batches_equal_data_collator_with_padding(tokenizer, multiple, kind):
    encoded = encode_texts(tokenizer, TEXTS, 24)
    n = len(TEXTS)
    targets = {
        "class": np.arange(n, dtype=np.int64) % 3,
        "binary": (np.arange(n) % 2).astype(np.int64),
        "multi-label": (np.arange(n * 3).reshape(n, 3) % 2).astype(np.float32),
    }[kind]
    positions = np.array([6, 3, 0, 2, 1])
    dataset = EncodedSplit(encoded, positions, targets[positions])
    features = [dataset[i] for i in range(len(dataset))]
    new = PadCollator(tokenizer, pad_to_multiple_of=multiple)(features)
    old = OldCollator(tokenizer, pad_to_multiple_of=multiple)(features)
    assert set(new) == set(old)
    for key in old:
        assert new[key].dtype == old[key].dtype, key
        assert torch.equal(new[key], old[key]), key


def test_left_padding_side_is_followed(tokenizer):
    tokenizer = tokenizer.__class__.from_pretrained(tokenizer.name_or_path, padding_side="left")
    encoded = encode_texts(tokenizer, TEXTS, 24)
    features = [{"input_ids": encoded.row(i), "labels": 1} for i in range(len(encoded))]
    new = PadCollator(tokenizer)(features)
    old = OldCollator(tokenizer)(features)
    assert all(torch.equal(new[k], old[k]) for k in old)
    assert new["attention_mask"][0, 0] == 0  # padded on the left


MULTI_CLASS = ModelJob(
    id="sentiment__multi-class", key="sentiment", strategy=Strategy.MULTI_CLASS, labels=SENTIMENTS
)


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _losses(tmp_path, name, table, split):
    config = tiny_config(epochs=2, learning_rate=1e-3, max_length=64, logging_steps=1)
    metrics = MetricsWriter(tmp_path / f"{name}.jsonl")
    report = trainer.train_job(MULTI_CLASS, config, table, split, tmp_path / name, metrics)
    records, _ = read_metrics(metrics.path)
    train = [(r["step"], r["train_loss"]) for r in records if r["kind"] == "train"]
    evals = [(r["step"], r["val_loss"], r["val_macro_f1"]) for r in records if r["kind"] == "eval"]
    return train, evals, report.test_metrics


def test_seeded_training_equals_the_old_collator(tmp_path, monkeypatch, one_thread):
    table = trainer_table(120, {"sentiment": SENTIMENTS}, seed=0)
    split = make_split(table, seed=0)
    new = _losses(tmp_path, "new", table, split)
    monkeypatch.setattr(trainer, "PadCollator", OldCollator)
    old = _losses(tmp_path, "old", table, split)
    assert len(new[0]) >= 10 and len(new[1]) == 2
    assert new == old
