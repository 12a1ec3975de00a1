"""Unit tests of the UI-free builders: charts, compare, session_info."""

from __future__ import annotations

import json
from types import SimpleNamespace

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
from arena_core.session.strategy import ModelJob
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_json
from arena_core.viz import charts
from arena_core.viz.compare import (
    LABEL_LEVEL,
    config_diff,
    diff_table,
    label_set_warnings,
    metrics_table,
    model_name,
    score_columns,
    session_scores,
    session_titles,
    setting_label,
    setting_text,
)

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


def test_compare_figure_colours_models_and_styles_sessions():
    titles = {"s1": "pair · 2025-01-01 10:00", "s2": "pair · 2025-01-01 10:05"}
    models = {"a": "sentiment", "b": "themes: economy"}
    fig = charts.compare_figure({"s1": RECORDS[:15], "s2": RECORDS}, "loss", titles, models)
    traces = {(t.meta["session"], t.meta["job"], t.meta["split"]): t for t in fig.data}
    # One colour per model, the same in both sessions; one line style and marker per session.
    assert traces["s1", "a", "train"].line.color == traces["s2", "a", "validation"].line.color
    assert traces["s2", "a", "train"].line.color != traces["s2", "b", "train"].line.color
    assert {t.line.dash for t in fig.data if t.meta["session"] == "s1"} == {"solid"}
    assert {t.line.dash for t in fig.data if t.meta["session"] == "s2"} == {"dash"}
    assert (
        traces["s1", "a", "validation"].marker.symbol
        != traces["s2", "a", "validation"].marker.symbol
    )
    # Training and validation of one model and session differ in weight and opacity.
    train, val = traces["s2", "a", "train"], traces["s2", "a", "validation"]
    assert train.opacity < val.opacity and train.line.width < val.line.width
    assert "markers" in val.mode
    # Named by session title and model name, never by id; one legend entry per curve pair.
    assert [t.name for t in fig.data if t.showlegend] == [
        "pair · 2025-01-01 10:00 · sentiment",
        "pair · 2025-01-01 10:05 · sentiment",
        "pair · 2025-01-01 10:05 · themes: economy",
    ]
    assert "validation" in val.hovertemplate and "pair · 2025-01-01 10:05" in val.hovertemplate
    assert traces["s1", "a", "train"].legendgroup == traces["s1", "a", "validation"].legendgroup
    f1 = charts.compare_figure({"s1": RECORDS}, "macro_f1")
    assert f1.layout.title.text == "Validation macro-F1"
    assert [t.name for t in f1.data] == ["s1 · a", "s1 · b"]  # ids only when no name is given
    with pytest.raises(ValueError):
        charts.compare_figure({"s1": RECORDS}, "nonsense")


def test_short_curves_get_markers_so_they_show_as_lines_with_points():
    one_epoch = job_records("a", 0, 1, 0.5)  # 4 training points, 1 validation point
    short = [r for r in one_epoch if r["kind"] == "eval" or r["step"] <= 3]
    fig = charts.compare_figure({"s1": short, "s2": one_epoch}, "loss")
    modes = {(t.meta["session"], t.meta["split"]): t.mode for t in fig.data}
    assert modes["s1", "train"] == "lines+markers"  # 3 points
    assert modes["s2", "train"] == "lines"  # 4 points: a line reads on its own
    assert modes["s1", "validation"] == modes["s2", "validation"] == "lines+markers"
    two = charts.loss_figure([r for r in one_epoch if r["kind"] == "train"][:2])
    assert two.data[0].mode == "lines+markers"


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


def named(**created: str):
    """Session stand-ins: id -> (name, created_at)."""
    return [SimpleNamespace(id=i, name=n, created_at=c) for i, (n, c) in created.items()]


def test_session_titles_tell_equal_names_apart_without_ids():
    titles = session_titles(
        named(
            a=("pair", "2025-01-01T10:00:01+00:00"),
            b=("pair", "2025-01-01T10:00:09+00:00"),  # same minute: seconds tell them apart
            c=("pair", "2025-01-01T11:00:00+00:00"),
            d=("solo", "2025-01-02T09:30:00+00:00"),
            e=("twin", "2025-01-03T09:30:00+00:00"),
            f=("twin", "2025-01-03T09:30:00+00:00"),  # same second: numbered
        )
    )
    assert titles == {
        "a": "pair · 2025-01-01 10:00:01",
        "b": "pair · 2025-01-01 10:00:09",
        "c": "pair · 2025-01-01 11:00",
        "d": "solo · 2025-01-02 09:30",
        "e": "twin · 2025-01-03 09:30:00 #1",
        "f": "twin · 2025-01-03 09:30:00 #2",
    }
    assert len(set(titles.values())) == len(titles)


def test_model_names_read_key_label_language():
    job = ModelJob(
        id="x", key="themes", strategy="one-vs-all", label="economy", labels=["n", "economy"]
    )
    assert model_name(job) == "themes: economy"
    assert model_name(job.model_copy(update={"language": "FR"})) == "themes: economy (FR)"
    assert (
        model_name(ModelJob(id="y", key="sentiment", strategy="multi-class", labels=["a"]))
        == "sentiment"
    )


def test_config_diff_shows_only_what_differs(store):
    parent, child = make_relaunch_pair(store, learning_rate=2e-4)
    manifests = [store.load(parent), store.load(child)]
    diff = config_diff(manifests)
    assert [d["field"] for d in diff] == ["training.learning_rate"]
    assert diff[0]["values"] == {parent: 1e-4, child: 2e-4}
    assert config_diff([manifests[0], manifests[0].model_copy(update={"id": "x"})]) == []
    titles = {parent: "parent", child: "child"}
    table = diff_table(manifests, titles)
    assert table.to_dict("records") == [
        {"Setting": "Learning rate", "parent": "0.0001", "child": "0.0002"}
    ]


def test_config_diff_sees_data_split_and_strategies(store):
    a = store.load(new_session(store, "a"))
    b = a.model_copy(deep=True, update={"id": "b"})
    b.split.sha256 = "other"
    b.dataset.source_sha256 = "other"
    b.key_strategies = {**b.key_strategies, "themes": "multi-label"}
    b.training.epochs = None
    b.onevsall_keys = []
    fields = {d["field"] for d in config_diff([a, b])}
    assert {"split.sha256", "dataset.source_sha256", "strategies.themes"} <= fields
    assert "training.learning_rate" not in fields
    table = diff_table([a, b], {a.id: "A", "b": "B"}).set_index("Setting")
    assert table.loc["Strategy: themes"].tolist() == ["one-vs-all", "multi-label"]
    assert table.loc["Split SHA-256", "B"] == "other"
    assert table.loc["Epochs", "B"] == "automatic"
    assert table.loc["One-vs-all keys"].tolist() == ["themes", "—"]
    for label in table.index:  # readable labels and values only
        assert "_" not in label and "." not in label
    cells = " ".join(table.to_numpy().ravel())
    assert "None" not in cells and "[" not in cells


def test_setting_labels_and_values_are_words():
    assert setting_label("training.batch_size") == "Batch size"
    assert setting_label("requested_strategies.themes") == "Strategy as chosen: themes"
    assert setting_label("language.per_language") == "One model set per language"
    assert setting_text("training.epochs", None) == "automatic"
    assert setting_text("language.languages", ["EN", "FR"]) == "EN, FR"
    assert setting_text("split.stratify", True) == "yes"
    assert setting_text("files_per_key.themes", None) == "—"


def test_label_set_warnings(store):
    a = store.load(new_session(store, "a"))
    b = a.model_copy(deep=True, update={"id": "b"})
    assert label_set_warnings([a, b]) == []
    b.keys["sentiment"].labels = ["negative", "positive"]
    del b.keys["themes"]
    warnings = label_set_warnings([a, b], {"a": "first", "b": "second"})
    assert any("themes" in w and "second" in w for w in warnings)
    assert any("sentiment" in w and "neutral" in w for w in warnings)


def test_metrics_table_side_by_side_with_deltas(store):
    parent, child = make_relaunch_pair(store)
    titles = {parent: "parent", child: "child"}
    table = metrics_table(store, [parent, child], titles=titles)
    assert list(table.columns) == ["Key", "Model", "Strategy", "parent", "child", "Δ child"]
    assert set(table["Key"]) == {"sentiment", "themes"}
    assert "themes: economy" in set(table["Model"])
    assert score_columns(table) == ["parent", "child", "Δ child"]
    labels = metrics_table(store, [parent, child], LABEL_LEVEL, titles)
    assert list(labels.columns) == [
        "Key", "Label", "Strategy", "Metric", "parent", "child", "Δ child"
    ]  # fmt: skip
    themes = labels[labels["Key"] == "themes"]
    assert not themes["Label"].str.startswith("not_").any()  # one-vs-all: positive label only
    assert (themes["Metric"] == "F1 of label '" + themes["Label"] + "' (positive class)").all()
    assert set(labels[labels["Key"] == "sentiment"]["Metric"]) == {
        "F1 of label 'positive'", "F1 of label 'negative'", "F1 of label 'neutral'"
    }  # fmt: skip
    for frame in (table, labels):
        delta = frame["Δ child"]
        assert ((frame["child"] - frame["parent"]).round(6) == delta.round(6)).all()
        assert (delta > 0).all()  # the child was fabricated with better scores
    default = metrics_table(store, [parent, child])  # titled by name and time, not by id
    assert not any(parent in c or child in c for c in default.columns)


def test_model_level_is_the_report_macro_f1_of_monitor_and_sessions(store):
    """A one-vs-all model's row is its report's macro-F1 (both classes), not the F1 of its
    positive class: the same number job_results gives Monitor and Sessions."""
    sid = make_session(store, "completed")
    folder = store.session_dir(sid)
    job = next(j for j in store.load(sid).plan if j.strategy.value == "one-vs-all")
    path = paths.job_dir(folder, job.id) / paths.JOB_REPORT
    report = json.loads(path.read_text())
    report["metrics"]["macro_f1"] = 0.44
    report["metrics"]["per_label"] = {
        f"not_{job.label}": {"f1": 0.88},
        job.label: {"f1": 0.0},
    }
    atomic_write_json(path, report)
    results = {r["model"]: r["macro_f1"] for r in job_results(folder, store.load(sid))}
    models = session_scores(store, sid)
    assert models[("themes", f"themes: {job.label}", "one-vs-all", "")] == 0.44
    assert sorted(models.values()) == sorted(v for v in results.values() if v is not None)
    labels = session_scores(store, sid, LABEL_LEVEL)
    assert labels[("themes", job.label, "one-vs-all", "")] == 0.0
    assert not any(label.startswith("not_") for _, label, _, _ in labels)
    with pytest.raises(ValueError):
        session_scores(store, sid, "key")


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
