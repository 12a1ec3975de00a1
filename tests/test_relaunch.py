"""Relaunch as clone-and-edit: readable child names, other strategies, languages and settings,
all on the parent's rows and split, with the plan derived from the child's manifest alone."""

from __future__ import annotations

import pytest
from factories import new_session

from arena_core.errors import ArenaError, StrategyError
from arena_core.session.plan import plan
from arena_core.session.relaunch import (
    RelaunchChanges,
    create_relaunch,
    family_name,
    preview_relaunch,
)
from arena_core.session.strategy import Strategy


def test_children_get_numbered_readable_names(store):
    parent = new_session(store, "reviews", strategies={"sentiment": "multi-class"})
    first = create_relaunch(store, parent)
    second = create_relaunch(store, parent)
    grandchild = create_relaunch(store, first.id)
    assert [first.name, second.name, grandchild.name] == [
        "reviews · relaunch 1",
        "reviews · relaunch 2",
        "reviews · relaunch 3",
    ]
    assert family_name(grandchild.name) == "reviews"
    assert store.load(parent).name == "reviews"  # the parent is never touched


def test_a_relaunch_can_change_a_keys_strategy_on_the_same_split(store):
    parent_id = new_session(store, strategies={"sentiment": "multi-class", "themes": "multi-label"})
    parent = store.load(parent_id)
    changes = RelaunchChanges(strategies={"sentiment": "one-vs-all"})
    child = create_relaunch(store, parent_id, {"batch_size": 4}, changes)
    saved = store.load(child.id)
    assert saved.key_strategies == {
        "sentiment": Strategy.ONE_VS_ALL,
        "themes": Strategy.MULTI_LABEL,
    }
    assert saved.onevsall_keys == ["sentiment"] and saved.multiclass_keys == []
    assert saved.training.batch_size == 4
    n_sentiment = len(parent.keys["sentiment"].labels)
    assert len(saved.plan) == n_sentiment + 1  # one binary model per value + one multi-label
    assert plan(saved) == saved.plan  # derived from the manifest alone
    assert saved.split.sha256 == parent.split.sha256  # same rows, same split
    assert set(saved.budget) == {job.id for job in saved.plan}


def test_a_relaunch_can_train_one_model_set_per_language(store):
    parent_id = new_session(store, strategies={"sentiment": "multi-class"})
    changes = RelaunchChanges(per_language=True)
    child = preview_relaunch(store, parent_id, changes=changes)
    languages = store.load(parent_id).language.languages
    assert child.language.per_language is True
    assert sorted(job.language for job in child.plan) == sorted(languages)


def test_an_impossible_strategy_is_refused_and_nothing_is_written(store):
    parent_id = new_session(store, strategies={"themes": "multi-label"})
    before = sorted(store.ids())
    with pytest.raises(StrategyError, match="cannot be multi-class"):
        create_relaunch(store, parent_id, changes=RelaunchChanges({"themes": "multi-class"}))
    assert sorted(store.ids()) == before


def test_an_unknown_setting_is_refused_with_the_allowed_names(store):
    parent_id = new_session(store, strategies={"sentiment": "multi-class"})
    with pytest.raises(ArenaError, match="Unknown setting 'epoch'.*batch_size"):
        preview_relaunch(store, parent_id, {"epoch": 3})


def test_a_relaunch_can_change_the_model(store):
    parent_id = new_session(store, strategies={"sentiment": "multi-class"})
    child = create_relaunch(store, parent_id, {"model": "tfidf"})
    assert store.load(child.id).training.model == "tfidf"
    assert len(child.plan) == len(store.load(parent_id).plan)
