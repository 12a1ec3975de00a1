"""The plan is derived from the manifest alone; save -> load -> plan reproduces it exactly."""

from __future__ import annotations

import json
import random

import pandas as pd
import pytest
from factories import THREE_THEMES, make_frame, normalised, settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from arena_core.errors import EmptyPlanError, StrategyError
from arena_core.session.check import check, is_complete
from arena_core.session.create import create_session, prepare
from arena_core.session.plan import plan
from arena_core.session.strategy import Strategy, auto_strategy
from arena_core.store import paths
from arena_core.store.session_store import SessionStore


def _jobs(jobs):
    return [(j.key, j.strategy.value, j.label, j.language) for j in jobs]


# ---------------------------------------------------------------- the original bug's scenarios


def test_hybrid_one_multiclass_key_and_one_one_vs_all_key_gives_4_jobs(store):
    prepared = prepare(
        normalised(make_frame(60, THREE_THEMES)),
        settings({"sentiment": "multi-class", "themes": "one-vs-all"}),
        "sha",
    )
    assert _jobs(prepared.jobs) == [
        ("sentiment", "multi-class", None, None),
        ("themes", "one-vs-all", "economy", None),
        ("themes", "one-vs-all", "environment", None),
        ("themes", "one-vs-all", "health", None),
    ]
    saved = create_session(store, prepared)
    reloaded = store.load(saved.id)
    assert plan(reloaded) == prepared.jobs
    assert reloaded.multiclass_keys == ["sentiment"]
    assert reloaded.onevsall_keys == ["themes"]
    assert reloaded.key_strategies == {"sentiment": "multi-class", "themes": "one-vs-all"}
    assert set(reloaded.files_per_key) == {"sentiment", "themes"}
    assert check(reloaded, store.session_dir(saved.id)) == []


def test_multiclass_with_two_keys_gives_2_jobs(store):
    frame = make_frame(60, THREE_THEMES)
    frame["annotation"] = [
        json.dumps({"sentiment": json.loads(a)["sentiment"], "topic": ["a", "b"][i % 2]})
        for i, a in enumerate(frame["annotation"])
    ]
    prepared = prepare(
        normalised(frame), settings({"sentiment": "multi-class", "topic": "multi-class"}), "sha"
    )
    saved = create_session(store, prepared)
    jobs = plan(store.load(saved.id))
    assert [(j.key, j.strategy.value) for j in jobs] == [
        ("sentiment", "multi-class"),
        ("topic", "multi-class"),
    ]


def test_filtered_labels_stay_dropped_after_reload(store):
    frame = make_frame(60, THREE_THEMES)
    # one 'mixed' sentiment seen once: below min_examples=2, must be dropped and recorded
    frame.loc[0, "annotation"] = json.dumps({"sentiment": "mixed", "themes": ["economy"]})
    prepared = prepare(normalised(frame), settings({"sentiment": "multi-class"}), "sha")
    assert "mixed" not in prepared.manifest.keys["sentiment"].labels
    saved = create_session(store, prepared)
    reloaded = store.load(saved.id)
    dropped = [(d.key, d.label, d.count) for d in reloaded.filtering.dropped]
    assert ("sentiment", "mixed", 1) in dropped
    assert all("mixed" not in job.labels for job in plan(reloaded))
    assert plan(reloaded) == prepared.jobs


def test_per_language_hybrid_repeats_jobs_per_language(store):
    prepared = prepare(
        normalised(make_frame(80, THREE_THEMES)),
        settings({"sentiment": "multi-class", "themes": "one-vs-all"}, per_language=True),
        "sha",
    )
    assert len(prepared.jobs) == 4 * 2
    assert {j.language for j in prepared.jobs} == {"EN", "FR"}
    saved = create_session(store, prepared)
    assert plan(store.load(saved.id)) == prepared.jobs


# ---------------------------------------------------------------- strategies


def test_auto_rule():
    assert auto_strategy(multi_valued=True, n_values=2) is Strategy.ONE_VS_ALL
    assert auto_strategy(multi_valued=False, n_values=5) is Strategy.MULTI_CLASS
    assert auto_strategy(multi_valued=False, n_values=6) is Strategy.ONE_VS_ALL
    assert auto_strategy(multi_valued=False, n_values=6, threshold=8) is Strategy.MULTI_CLASS


def test_multiclass_on_multi_valued_key_is_refused_with_rows(store):
    with pytest.raises(StrategyError, match=r"'themes' cannot be multi-class.*rows"):
        prepare(
            normalised(make_frame(60, THREE_THEMES)), settings({"themes": "multi-class"}), "sha"
        )
    assert not store.sessions_root.exists()


def test_plan_of_zero_models_is_refused_before_anything_is_written(store):
    frame = make_frame(30, THREE_THEMES)
    frame["annotation"] = json.dumps({"sentiment": "positive"})  # a single value everywhere
    with pytest.raises(EmptyPlanError, match="0 models"):
        prepare(normalised(frame), settings({"sentiment": "multi-class"}), "sha")
    assert not store.home.exists()


def test_unknown_strategy_and_unknown_key_are_clear_errors():
    dataset = normalised(make_frame(60, THREE_THEMES))
    with pytest.raises(StrategyError, match="Unknown strategy 'binary'"):
        prepare(dataset, settings({"sentiment": "binary"}), "sha")
    with pytest.raises(StrategyError, match="unknown key"):
        prepare(dataset, settings({"colour": "multi-class"}), "sha")


# ---------------------------------------------------------------- the four fields


def test_manifest_without_the_four_strategy_fields_is_flagged_by_name(store):
    prepared = prepare(normalised(make_frame(60, THREE_THEMES)), settings(), "sha")
    saved = create_session(store, prepared)
    path = store.session_dir(saved.id) / paths.MANIFEST
    raw = json.loads(path.read_text())
    for name in ("multiclass_keys", "onevsall_keys", "key_strategies", "files_per_key"):
        raw.pop(name)
    path.write_text(json.dumps(raw))
    problems = check(store.load(saved.id))
    flagged = {p.field for p in problems if "missing" in p.message}
    assert flagged == {"multiclass_keys", "onevsall_keys", "key_strategies", "files_per_key"}
    assert not is_complete(problems)


def test_inconsistent_fields_are_flagged(store):
    saved = create_session(
        store,
        prepare(
            normalised(make_frame(60, THREE_THEMES)), settings({"themes": "one-vs-all"}), "sha"
        ),
    )
    folder = store.session_dir(saved.id)
    manifest = store.load(saved.id)
    manifest.onevsall_keys = []  # themes is one-vs-all in key_strategies but absent here
    manifest.files_per_key = {"sentiment": "data/missing.parquet"}
    fields = {p.field for p in check(manifest, folder)}
    assert {"onevsall_keys", "files_per_key"} <= fields


def test_split_hash_mismatch_is_flagged(store):
    saved = create_session(
        store, prepare(normalised(make_frame(60, THREE_THEMES)), settings(), "sha")
    )
    folder = store.session_dir(saved.id)
    frame = pd.read_parquet(folder / paths.SPLIT_FILE)
    frame.loc[0, "split"] = "test" if frame.loc[0, "split"] != "test" else "train"
    frame.to_parquet(folder / paths.SPLIT_FILE, index=False)
    assert any(p.field == "split" for p in check(store.load(saved.id), folder))


# ---------------------------------------------------------------- round trip (property)

STRATEGY_CHOICES = ["multi-class", "one-vs-all", "multi-label", "auto"]


@st.composite
def session_specs(draw):
    n_keys = draw(st.integers(1, 3))
    keys = []
    for k in range(n_keys):
        multi = draw(st.booleans())
        n_values = draw(st.integers(2, 7))
        choices = [c for c in STRATEGY_CHOICES if not (multi and c == "multi-class")]
        keys.append((f"key{k}", multi, n_values, draw(st.sampled_from(choices))))
    return {
        "keys": keys,
        "per_language": draw(st.booleans()),
        "min_examples": draw(st.sampled_from([1, 2, 5])),
        "seed": draw(st.integers(0, 1000)),
    }


def _frame_for(spec) -> pd.DataFrame:
    rng = random.Random(spec["seed"])
    rows = []
    for i in range(48):
        annotation = {}
        for name, multi, n_values, _ in spec["keys"]:
            values = [
                f"v{rng.randrange(n_values)}" for _ in range(rng.randint(1, 2) if multi else 1)
            ]
            if multi and i == 0:
                values = ["v0", "v1"]  # at least one row is multi-valued
            annotation[name] = sorted(set(values)) if multi else values[0]
        rows.append(
            {
                "text": f"row {i}",
                "lang": "EN" if i % 2 else "FR",
                "annotation": json.dumps(annotation),
            }
        )
    return pd.DataFrame(rows)


@hsettings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=session_specs())
def test_round_trip_save_load_plan_equals_in_memory_plan(tmp_path_factory, spec):
    store = SessionStore(tmp_path_factory.mktemp("home"))
    strategies = {name: strategy for name, _, _, strategy in spec["keys"]}
    try:
        prepared = prepare(
            normalised(_frame_for(spec)),
            settings(
                strategies, per_language=spec["per_language"], min_examples=spec["min_examples"]
            ),
            "sha",
        )
    except EmptyPlanError:
        assert not store.home.exists()
        return
    saved = create_session(store, prepared)
    reloaded = store.load(saved.id)
    assert plan(reloaded) == prepared.jobs
    assert reloaded.plan == prepared.jobs
    problems = check(reloaded, store.session_dir(saved.id))
    assert [p for p in problems if p.severity == "error"] == []
    # only notes about (key, language) pairs too small to train may remain, as warnings
    assert all(p.field == "plan" and p.severity == "warning" for p in problems)
