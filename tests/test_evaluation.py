"""The numpy metrics in arena_core.training.evaluation against scikit-learn's, on random predictions.

The worker computes its metrics without scikit-learn (about 100 MiB less resident memory);
these tests hold every figure to scikit-learn's definition, zero-division cases included.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from arena_core.training.evaluation import classification_metrics, multilabel_metrics

LABELS = ["a", "b", "c", "d"]


def _per_label_arrays(result: dict) -> tuple[list, list, list, list]:
    rows = [result["per_label"][label] for label in result["labels"]]
    return tuple([row[name] for row in rows] for name in ("precision", "recall", "f1", "support"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=60))
def test_single_label_metrics_match_scikit_learn(pairs):
    y_true, y_pred = (np.array(column) for column in zip(*pairs, strict=True))
    ids = list(range(len(LABELS)))
    result = classification_metrics(y_true, y_pred, LABELS)

    expected = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    for ours, theirs in zip(_per_label_arrays(result), expected, strict=True):
        assert ours == pytest.approx(list(theirs))
    assert result["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert result["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, labels=ids, average="macro", zero_division=0)
    )
    assert result["confusion_matrix"] == confusion_matrix(y_true, y_pred, labels=ids).tolist()


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(st.booleans(), min_size=4, max_size=4), min_size=n, max_size=n),
            st.lists(st.lists(st.floats(0, 1), min_size=4, max_size=4), min_size=n, max_size=n),
        )
    )
)
def test_multi_label_metrics_match_scikit_learn(truth_and_probs):
    truth, probs = (np.array(part) for part in truth_and_probs)
    thresholds = {"a": 0.3, "c": 0.7}  # b and d keep 0.5
    result = multilabel_metrics(truth, probs, LABELS, thresholds)

    y_true = truth.astype(int)
    cut = np.array([0.3, 0.5, 0.7, 0.5])
    y_pred = (probs >= cut).astype(int)
    expected = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    for ours, theirs in zip(_per_label_arrays(result), expected, strict=True):
        assert ours == pytest.approx(list(theirs))
    assert result["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    for average in ("macro", "micro"):
        assert result[f"{average}_f1"] == pytest.approx(
            f1_score(y_true, y_pred, average=average, zero_division=0)
        )


def test_empty_inputs_give_no_scores():
    assert classification_metrics([], [], LABELS)["macro_f1"] is None
    assert multilabel_metrics(np.zeros((0, 4)), np.zeros((0, 4)), LABELS, None)["n"] == 0


def test_a_label_never_seen_counts_as_zero_in_the_macro_average():
    result = classification_metrics([0, 1], [0, 1], LABELS)
    assert result["macro_f1"] == pytest.approx(0.5)  # a and b perfect, c and d absent: 0
    assert result["per_label"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
