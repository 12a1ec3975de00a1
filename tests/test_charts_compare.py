"""Unit tests of the UI-free builders: charts, compare, session_info."""

from __future__ import annotations

import json

import pytest
from factories import (
    EPOCHS,
    job_records,
    make_relaunch_pair,
    make_session,
    new_session,
)

from arena_core.session.describe import MISSING, job_results, readable_sections
from arena_core.session.manifest import STRATEGY_FIELDS
from arena_core.viz import charts
from arena_core.viz.compare import config_diff, label_set_warnings, metrics_table, session_scores

RECORDS = job_records("a", 0, 3, 0.5) + job_records("b", 1, 3, 0.5)


# ---------------------------------------------------------------- charts


def test_loss_figure_has_train_and_validation_per_job():
    fig = charts.loss_figure(RECORDS)
    assert fig.layout.title.text == "Loss"
    traces = {(t.meta["job"], t.meta["split"]): t for t in fig.data}
    assert set(traces) == {(j, s) for j in "ab" for s in ("train", "validation")}
    assert traces["a", "train"].line.dash == "solid"
    assert traces["a", "validation"].line.dash == "dash"
    assert traces["a", "train"].line.color == traces["a", "validation"].line.color
    assert traces["a", "train"].line.color != traces["b", "train"].line.color
    assert len(traces["a", "validation"].x) == 3
    assert [t.name for t in fig.data if t.showlegend] == ["a", "b"]  # one legend entry per model
    single = charts.loss_figure([{"kind": "train", "job": "a", "step": 10, "train_loss": 0.7}])
    assert "markers" in single.data[0].mode  # a lone point stays visible


def test_f1_figure_is_per_epoch_and_skips_bad_records():
    records = [*RECORDS, {"kind": "eval", "job": "a", "epoch": 4, "val_macro_f1": None}, {"x": 1}]
    fig = charts.f1_figure(records)
    assert fig.layout.title.text == "Validation macro-F1"
    a = next(t for t in fig.data if t.name == "a")
    assert list(a.x) == [1.0, 2.0, 3.0]
    assert charts.loss_figure([]).data == ()


def test_compare_figure_colours_sessions_and_dashes_splits():
    fig = charts.compare_figure({"s1": RECORDS[:15], "s2": RECORDS}, "loss")
    s1 = [t for t in fig.data if t.legendgroup == "s1"]
    s2 = [t for t in fig.data if t.legendgroup == "s2"]
    assert {t.line.color for t in s1} != {t.line.color for t in s2}
    assert len({t.line.color for t in s1}) == 1
    assert {t.line.dash for t in s2 if t.meta["split"] == "train"} == {"solid"}
    assert {t.line.dash for t in s2 if t.meta["split"] == "validation"} == {"dash"}
    assert [t.name for t in fig.data if t.showlegend] == ["s1", "s2"]
    f1 = charts.compare_figure({"s1": RECORDS}, "macro_f1")
    assert f1.layout.title.text == "Validation macro-F1"
    with pytest.raises(ValueError):
        charts.compare_figure({"s1": RECORDS}, "nonsense")


def test_label_counts_figure_greys_dropped_labels():
    fig = charts.label_counts_figure({"a": 2, "b": 10, "c": 1}, dropped=[{"label": "c"}])
    bar = fig.data[0]
    assert list(bar.x) == ["b", "a", "c"]
    assert bar.marker.color[2] != bar.marker.color[0]
    assert list(bar.text) == ["", "", "dropped"]


def long_run(jobs: str, steps: int, spike: tuple[str, int] | None = None) -> list[dict]:
    """Interleaved train lines of several jobs (as a multi-job log), one eval per 100 steps."""
    records = []
    for step in range(1, steps + 1):
        for job in jobs:
            loss = 9.0 if (job, step) == spike else 1.0 / step
            records.append({"kind": "train", "job": job, "step": step, "train_loss": loss})
            records[-1]["epoch"] = step / 100
            if step % 100 == 0:
                records.append(
                    {
                        "kind": "eval",
                        "job": job,
                        "step": step,
                        "epoch": step / 100,
                        "val_loss": 0.5,
                        "val_macro_f1": 0.7,
                    }
                )
    return records


def test_long_training_curves_are_downsampled_per_job_and_validation_is_not():
    records = long_run("ab", 30_000, spike=("b", 12_345))
    fig = charts.loss_figure(records)
    traces = {(t.meta["job"], t.meta["split"]): t for t in fig.data}
    for job in "ab":
        train = traces[job, "train"]
        assert len(train.x) <= charts.MAX_POINTS
        assert (train.x[0], train.x[-1]) == (1, 30_000)
        assert len(traces[job, "validation"].x) == 300  # one per eval record, all drawn
    assert max(traces["b", "train"].y) == 9.0  # b's spike is kept in b's curve only
    assert max(traces["a", "train"].y) == 1.0
    assert 12_345 in traces["b", "train"].x
    f1 = charts.f1_figure(records)
    assert [len(t.x) for t in f1.data] == [300, 300]
    compare = charts.compare_figure({"s1": records}, "loss")
    lengths = {(t.meta["job"], t.meta["split"]): len(t.x) for t in compare.data}
    assert lengths["b", "train"] <= charts.MAX_POINTS and lengths["b", "validation"] == 300
    assert len(records) == 60_600  # the records themselves are untouched


def test_series_index_reads_only_new_records_and_matches_a_full_build():
    records = long_run("ab", 300)
    index = charts.SeriesIndex()
    charts.loss_figure(records[:100], index)  # another list: the index starts from it
    live = records[:250]
    charts.loss_figure(live, index)
    live.extend(records[250:])
    live.append({"kind": "train", "job": "c", "step": 1, "train_loss": 2.0})
    incremental = charts.loss_figure(live, index)
    full = charts.loss_figure(list(live))
    assert incremental.to_dict()["data"] == full.to_dict()["data"]
    assert [t.name for t in incremental.data if t.showlegend] == ["a", "b", "c"]
    assert charts.f1_figure(live, index).to_dict() == charts.f1_figure(live).to_dict()
    xs, _ = index.curves("train", "train_loss", "step")["a"]
    assert xs == list(range(1, 301))  # each record read once: no step twice
    del live[10:]  # shorter (the reader started again): rebuilt from scratch
    assert len(charts.loss_figure(live, index).data[0].x) == 5


# ---------------------------------------------------------------- compare


def test_config_diff_shows_only_what_differs(store):
    parent, child = make_relaunch_pair(store, learning_rate=2e-4)
    manifests = [store.load(parent), store.load(child)]
    diff = config_diff(manifests)
    assert [d["field"] for d in diff] == ["training.learning_rate"]
    assert diff[0]["values"] == {parent: 1e-4, child: 2e-4}
    assert config_diff([manifests[0], manifests[0].model_copy(update={"id": "x"})]) == []


def test_config_diff_sees_data_split_and_strategies(store):
    a = store.load(new_session(store, "a"))
    b = a.model_copy(deep=True, update={"id": "b"})
    b.split.sha256 = "other"
    b.dataset.source_sha256 = "other"
    b.key_strategies = {**b.key_strategies, "themes": "multi-label"}
    fields = {d["field"] for d in config_diff([a, b])}
    assert {"split.sha256", "dataset.source_sha256", "strategies.themes"} <= fields
    assert "training.learning_rate" not in fields


def test_label_set_warnings(store):
    a = store.load(new_session(store, "a"))
    b = a.model_copy(deep=True, update={"id": "b"})
    assert label_set_warnings([a, b]) == []
    b.keys["sentiment"].labels = ["negative", "positive"]
    del b.keys["themes"]
    warnings = label_set_warnings([a, b])
    assert any("themes" in w and "b" in w for w in warnings)
    assert any("sentiment" in w and "neutral" in w for w in warnings)


def test_metrics_table_side_by_side_with_deltas(store):
    parent, child = make_relaunch_pair(store)
    table = metrics_table(store, [parent, child])
    assert list(table.columns) == ["level", "key", "label", "language", parent, child, f"Δ {child}"]
    key_rows = table[table["level"] == "key"]
    assert set(key_rows["key"]) == {"sentiment", "themes"}
    labels = table[(table["level"] == "label") & (table["key"] == "themes")]
    assert not labels["label"].str.startswith("not_").any()  # one-vs-all: positive label only
    delta = table[f"Δ {child}"]
    assert ((table[child] - table[parent]).round(6) == delta.round(6)).all()
    assert (delta > 0).all()  # the child was fabricated with better scores


def test_metrics_of_an_untrained_session_are_empty(store):
    sid = new_session(store)
    assert session_scores(store, sid) == {}
    assert metrics_table(store, [sid]).empty


# ---------------------------------------------------------------- session_info


def test_readable_sections_name_missing_fields(store):
    sid = make_session(store, "incomplete")
    sections = readable_sections(store.load(sid))
    for name in ("Dataset", "Keys & label sets", "Strategies", "Filtering", "Languages", "Split"):
        assert name in sections
    assert all(sections["Strategies"][f] == MISSING for f in STRATEGY_FIELDS)
    assert {row["key"] for row in sections["Keys & label sets"]} == {"sentiment", "themes"}
    assert "Legacy metadata" not in sections
    json.dumps(sections)  # plain JSON types only


def test_readable_sections_of_a_legacy_manifest(store):
    manifest = store.load(new_session(store))
    manifest.legacy = {"source": "/old/logs/x", "metadata_version": "2.0"}
    assert readable_sections(manifest)["Legacy metadata"]["metadata_version"] == "2.0"


def test_job_results_from_reports_and_progress(store):
    done = make_session(store, "completed")
    rows = job_results(store.session_dir(done), store.load(done))
    assert len(rows) == len(store.load(done).plan) == 5
    assert all(r["status"] == "completed" and r["macro_f1"] is not None for r in rows)
    assert rows[0]["best_epoch"] == EPOCHS
    failed = make_session(store, "failed")
    rows = job_results(store.session_dir(failed), store.load(failed), with_reports=True)
    assert [r["status"] for r in rows[:3]] == ["completed", "failed", "queued"]
    assert "out of memory" in rows[1]["error"]
    assert rows[0]["report"]["metrics"]["per_label"] and rows[1]["report"] is None
