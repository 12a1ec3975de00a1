"""Length-bucketed batch order: every row once per epoch, little padding, reproducible."""

import random

from arena_core.training.sampling import LengthBucketSampler, LengthSortedSampler


def _padded_tokens(order, lengths, batch):
    chunks = [order[i : i + batch] for i in range(0, len(order), batch)]
    return sum(max(lengths[i] for i in chunk) * len(chunk) for chunk in chunks)


def test_each_row_once_sorted_batches_and_epoch_seeded_order():
    rng = random.Random(0)
    lengths = [int(rng.paretovariate(1.5) * 12) for _ in range(203)]
    sampler = LengthBucketSampler(lengths, batch_size=16, seed=3)
    sampler.set_epoch(0)
    first = list(sampler)
    assert sorted(first) == list(range(203))
    assert list(sampler) == first  # same epoch, same order (resume replays it)
    sampler.set_epoch(1)
    second = list(sampler)
    assert sorted(second) == list(range(203)) and second != first
    shuffled = list(range(203))
    rng.shuffle(shuffled)
    assert _padded_tokens(first, lengths, 16) < 0.7 * _padded_tokens(shuffled, lengths, 16)
    # 203 = 12 x 16 + 11: the short batch comes last, so every chunk is one bucket
    tight = sum(max(b) * len(b) for b in _sorted_chunks(lengths, 16))
    assert _padded_tokens(first, lengths, 16) == tight


def _sorted_chunks(lengths, batch):
    ordered = sorted(lengths)
    return [ordered[i : i + batch] for i in range(0, len(ordered), batch)]


def test_eval_order_is_shortest_first():
    lengths = [5, 1, 9, 3]
    assert list(LengthSortedSampler(lengths)) == [1, 3, 0, 2]
