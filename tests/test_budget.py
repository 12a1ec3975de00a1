"""The step budget: small datasets get enough optimizer steps, explicit epochs win, and what the
defaults decide is recorded in the manifest and repeated by a relaunch."""

from __future__ import annotations

import pytest

from arena_core.data.demo import demo_options, demo_path
from arena_core.session.create import (
    SessionSettings,
    create_session,
    prepare_from_file,
)
from arena_core.session.manifest import TrainingConfig
from arena_core.session.relaunch import create_relaunch
from arena_core.store.session_store import SessionStore
from arena_core.training.budget import budget_summary, job_budget


@pytest.mark.parametrize(
    ("n_train", "epochs", "steps"),
    [
        (288, 30, 540),  # 18 steps an epoch: capped at max_epochs
        (1000, 10, 630),  # 63 steps an epoch: enough epochs for min_steps
        (20_000, 2, 2500),  # large: min_epochs
    ],
)
def test_auto_budget_gives_small_sets_enough_steps(n_train, epochs, steps):
    budget = job_budget(TrainingConfig(), n_train)
    assert budget.auto
    assert (budget.epochs, budget.total_steps) == (epochs, steps)


def test_explicit_epochs_win():
    budget = job_budget(TrainingConfig(epochs=3), 288)
    assert (budget.epochs, budget.total_steps, budget.auto) == (3, 54, False)


def test_budget_is_recorded_and_relaunch_recomputes_it(tmp_path):
    store = SessionStore(tmp_path / "home")
    settings = SessionSettings(training=TrainingConfig(model="tiny"), name="budget")
    prepared = prepare_from_file(demo_path(), demo_options(), settings)
    parent = create_session(store, prepared)
    assert set(parent.budget) == {job.id for job in parent.plan}
    first = next(iter(parent.budget.values()))
    assert first.auto and first.total_steps >= TrainingConfig().min_steps * 0.5

    reloaded = store.load(parent.id)
    assert reloaded.budget == parent.budget  # on disk, exactly

    child = create_relaunch(store, parent.id, {"epochs": 2})
    assert all(b.epochs == 2 and not b.auto for b in child.budget.values())
    assert {k: b.n_train for k, b in child.budget.items()} == {
        k: b.n_train for k, b in parent.budget.items()
    }
    summary = budget_summary(child.training, child.budget)
    assert summary["epochs_min"] == summary["epochs_max"] == 2
    assert summary["steps"] == sum(b.total_steps for b in child.budget.values())


def test_baseline_sessions_have_no_step_budget(tmp_path):
    settings = SessionSettings(training=TrainingConfig(model="tfidf"), name="tfidf")
    prepared = prepare_from_file(demo_path(), demo_options(), settings)
    assert prepared.manifest.budget == {}
    assert budget_summary(prepared.manifest.training, prepared.manifest.budget) == {}


def test_relaunch_of_a_baseline_with_a_transformer_gets_a_budget(tmp_path):
    store = SessionStore(tmp_path / "home")
    settings = SessionSettings(training=TrainingConfig(model="tfidf"), name="tfidf")
    parent = create_session(store, prepare_from_file(demo_path(), demo_options(), settings))
    child = create_relaunch(store, parent.id, {"model": "tiny"})
    assert set(child.budget) == {job.id for job in child.plan}
    assert all(b.auto for b in child.budget.values())
