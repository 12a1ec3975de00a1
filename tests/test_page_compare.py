"""Compare page (AppTest under real navigation): picks, curves, metrics, settings diff."""

from __future__ import annotations

import json

from apptest_support import nav_app
from factories import KINDS, make_relaunch_pair, make_session

from arena_core.session.describe import job_results
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_json
from arena_core.viz.compare import session_titles
from ui.common import COMPARE_SESSIONS

PAGE = "compare"


def frame_with(at, column):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def titles_of(store) -> dict[str, str]:
    """How the page names every listed session (name · creation time)."""
    return session_titles(s for s in store.list() if s.error is None)


def compare(tmp_path, ids):
    """The Compare page reached from "Compare with its parent" (ids preselected)."""
    at = nav_app(tmp_path, PAGE)
    at.session_state[COMPARE_SESSIONS] = ids
    return at.run()


def test_fewer_than_two_sessions_is_an_empty_state(store, tmp_path):
    at = nav_app(tmp_path, PAGE).run()
    assert not at.exception and "at least two sessions" in at.info[0].value
    make_session(store, "completed")
    at = nav_app(tmp_path, PAGE).run()
    assert not at.exception and "at least two sessions" in at.info[0].value


def test_every_kind_renders_when_picked(store, tmp_path):
    ids = [make_session(store, kind) for kind in KINDS]
    readable = [i for i in ids if store.summary(i).error is None]
    at = compare(tmp_path, ids)  # the unreadable one is left out
    assert not at.exception
    assert at.multiselect(key="cmp_sessions").value == readable


def test_relaunch_pair_diff_shows_only_the_learning_rate(store, tmp_path):
    parent, child = make_relaunch_pair(store, learning_rate=2e-4)
    make_session(store, "completed", "unrelated")
    at = compare(tmp_path, [parent, child])
    assert not at.exception
    titles = titles_of(store)
    assert titles[parent] != titles[child]  # equal names told apart by their creation time
    assert at.multiselect(key="cmp_sessions").value == [parent, child]
    diff = frame_with(at, "Setting")
    assert list(diff["Setting"]) == ["Learning rate"]  # a label, not training.learning_rate
    assert list(diff.columns) == ["Setting", titles[parent], titles[child]]
    assert diff.iloc[0].tolist() == ["Learning rate", "0.0001", "0.0002"]
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert [c["layout"]["title"]["text"] for c in charts] == ["Loss", "Validation macro-F1"]
    names = {t["name"] for c in charts for t in c["data"]}
    assert f"{titles[parent]} · sentiment" in names
    assert f"{titles[child]} · themes: sports" in names
    assert not any(parent in n or child in n for n in names)  # named, never by id
    assert "Best validation macro-F1" in [m.value.strip("# ") for m in at.markdown]
    metrics = frame_with(at, f"Δ {titles[child]}")
    assert set(metrics["Key"]) == {"sentiment", "themes"}
    at.radio(key="cmp_level").set_value("label").run()
    assert "Best validation F1 per label" in [m.value.strip("# ") for m in at.markdown]
    labels = frame_with(at, f"Δ {titles[child]}")
    assert "neutral" in set(labels["Label"])
    theme = labels[labels["Key"] == "themes"].iloc[0]
    assert theme["Metric"] == f"F1 of label '{theme['Label']}' (positive class)"
    assert not at.warning  # same label sets


def test_one_vs_all_shows_the_macro_f1_of_monitor_and_sessions(store, tmp_path):
    """The per-model table shows the report's macro-F1 (what Monitor/Sessions show), not the
    positive-class F1 of the binary model, which only the per-label table shows, named so."""
    parent, child = make_relaunch_pair(store)
    folder = store.session_dir(child)
    job = next(j for j in store.load(child).plan if j.strategy.value == "one-vs-all")
    report_path = paths.job_dir(folder, job.id) / paths.JOB_REPORT
    report = json.loads(report_path.read_text())
    report["metrics"]["macro_f1"] = 0.4321
    report["metrics"]["per_label"][job.label]["f1"] = 0.0  # never says yes
    atomic_write_json(report_path, report)
    expected = next(r for r in job_results(folder, store.load(child)) if r["model"] == job.id)
    assert expected["macro_f1"] == 0.4321

    at = compare(tmp_path, [parent, child])
    assert not at.exception
    title = titles_of(store)[child]
    models = frame_with(at, "Model")
    row = models[models["Model"] == f"themes: {job.label}"].iloc[0]
    assert row[title] == 0.4321
    at.radio(key="cmp_level").set_value("label").run()
    labels = frame_with(at, "Metric")
    row = labels[(labels["Key"] == "themes") & (labels["Label"] == job.label)].iloc[0]
    assert row[title] == 0.0
    assert row["Metric"] == f"F1 of label '{job.label}' (positive class)"


def test_arriving_from_compare_with_parent_shows_the_family_in_quick_pick(store, tmp_path):
    make_session(store, "completed", "other")
    parent, child = make_relaunch_pair(store)
    at = compare(tmp_path, [parent, child])
    assert not at.exception
    assert at.selectbox(key="cmp_family").value == parent
    titles = titles_of(store)
    quick = at.selectbox(key="cmp_family")
    assert f"{titles[parent]} + 1 relaunch(es)" in quick.options
    picker = at.multiselect(key="cmp_sessions")
    assert sorted(picker.options) == sorted(titles.values())  # names with date, no id
    assert not any(sid in option for option in picker.options for sid in titles)
    # Adding an unrelated session leaves the family: the quick pick says so.
    other = next(sid for sid in titles if sid not in (parent, child))
    at.multiselect(key="cmp_sessions").select(other).run()
    assert not at.exception and at.selectbox(key="cmp_family").value is None


def test_quick_pick_selects_parent_and_children(store, tmp_path):
    parent, child = make_relaunch_pair(store)
    other = make_session(store, "completed", "other")
    at = compare(tmp_path, [other, child])
    assert at.selectbox(key="cmp_family").value is None  # not one family
    at.selectbox(key="cmp_family").set_value(parent).run()
    assert not at.exception
    assert at.multiselect(key="cmp_sessions").value == [parent, child]


def test_different_label_sets_are_warned(store, tmp_path):
    parent, child = make_relaunch_pair(store)
    store.update(child, lambda m: m.keys["sentiment"].labels.remove("neutral"))
    at = compare(tmp_path, [parent, child])
    assert not at.exception
    title = titles_of(store)[child]
    assert any(
        "sentiment" in w.value and "neutral" in w.value and title in w.value for w in at.warning
    )
    assert not any(child in w.value for w in at.warning)
