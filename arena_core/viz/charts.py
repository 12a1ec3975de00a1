"""Plotly figures built from metrics records and label counts. No streamlit here.

Records are the lines of the metrics log: ``{"kind": "train", "job", "step", "epoch",
"train_loss", ...}`` and ``{"kind": "eval", "job", "step", "epoch", "val_loss", "val_macro_f1",
...}``. Each model (job) keeps one colour; training is drawn solid, validation dashed.
Long training curves are plotted from their min/max envelope (``downsample``); the records
themselves (tables, downloads) are never reduced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative

from arena_core.store.metrics_log import EVAL, TRAIN
from arena_core.viz.downsample import MAX_POINTS, minmax_downsample

PALETTE = qualitative.Plotly + qualitative.D3
LOSS_TITLE = "Loss"
F1_TITLE = "Validation macro-F1"
# (record kind, record field, split name, line dash) per compare metric
SERIES: dict[str, list[tuple[str, str, str, str]]] = {
    "loss": [(TRAIN, "train_loss", "train", "solid"), (EVAL, "val_loss", "validation", "dash")],
    "macro_f1": [(EVAL, "val_macro_f1", "validation", "dash")],
    "accuracy": [(EVAL, "val_accuracy", "validation", "dash")],
}
METRIC_TITLES = {"loss": LOSS_TITLE, "macro_f1": F1_TITLE, "accuracy": "Validation accuracy"}


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


Curves = dict[str, tuple[list[float], list[float]]]  # job -> (xs, ys), in log order


class SeriesIndex:
    """Per-job curves of a records list that only grows, extended with the new records only.

    A live view keeps one across reruns and passes the same list each time
    (``MetricsTail.records``): an update then reads only what was appended since the last
    one, so a tick does not walk the whole log again. Another list, or a shorter one (the
    reader started again after a resume), rebuilds it from scratch.
    """

    def __init__(self) -> None:
        self._source: Sequence[Mapping[str, Any]] = ()
        self._seen = 0
        self._jobs: dict[str, None] = {}
        self._curves: dict[tuple[str, str, str], Curves] = {}

    def update(self, records: Sequence[Mapping[str, Any]]) -> SeriesIndex:
        """Take in the records added to ``records`` since the last update."""
        if records is not self._source or len(records) < self._seen:
            self._source, self._seen, self._jobs = records, 0, {}
            self._curves = {spec: {} for spec in self._curves}
        self._add(records[self._seen :], self._curves)
        self._seen = len(records)
        return self

    def jobs(self) -> list[str]:
        """Job ids in order of first appearance (their colour order)."""
        return list(self._jobs)

    def curves(self, kind: str, field: str, x: str) -> Curves:
        """job -> (xs, ys) of the records of ``kind`` that carry numbers in ``x`` and ``field``.

        The lists are the index's own: read them, do not change them.
        """
        spec = (kind, field, x)
        if spec not in self._curves:  # first asked for: read what was seen so far once
            self._curves[spec] = {}
            self._add(self._source[: self._seen], {spec: self._curves[spec]})
        return self._curves[spec]

    def _add(
        self,
        records: Iterable[Mapping[str, Any]],
        curves: Mapping[tuple[str, str, str], Curves],
    ) -> None:
        for record in records:
            job = str(record.get("job", ""))
            self._jobs.setdefault(job, None)
            kind = record.get("kind")
            for (wanted, field, x), by_job in curves.items():
                if kind != wanted:
                    continue
                xv, yv = _number(record.get(x)), _number(record.get(field))
                if xv is None or yv is None:
                    continue
                xs, ys = by_job.setdefault(job, ([], []))
                xs.append(xv)
                ys.append(yv)


def _indexed(records: Sequence[Mapping[str, Any]], index: SeriesIndex | None) -> SeriesIndex:
    return (index if index is not None else SeriesIndex()).update(records)


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str, note: str = "") -> go.Figure:
    fig.update_layout(
        title={"text": title, "subtitle": {"text": note}},
        xaxis_title=x_title,
        yaxis_title=y_title,
        legend={"orientation": "h", "yanchor": "top", "y": -0.25, "groupclick": "togglegroup"},
        margin={"t": 70, "b": 10},
        hovermode="x unified",
    )
    return fig


FEW_POINTS = 3  # a curve of this many points or fewer gets markers: lone dots, short lines


def _mode(kind: str, n_points: int) -> str:
    """Validation points get markers; a short training curve too (1-3 points would read as a
    lone dot or a bare segment without them)."""
    return "lines+markers" if kind == EVAL or n_points <= FEW_POINTS else "lines"


SPLIT_NOTE = "solid: training · dashed: validation"


def _line(xs, ys, kind, group, show, label, colour, dash, meta) -> go.Scatter:
    """One curve of a legend group (a model or a session); hover names what it is.

    A long training curve is drawn from at most ``MAX_POINTS`` points (its min/max envelope);
    validation points (one per epoch) are all drawn.
    """
    if kind == TRAIN:
        xs, ys = minmax_downsample(xs, ys, MAX_POINTS)
    return go.Scatter(
        x=xs,
        y=ys,
        mode=_mode(kind, len(xs)),
        name=group,
        legendgroup=group,
        showlegend=show,
        hovertemplate=f"{label}: %{{y:.4f}}<extra></extra>",
        line={"color": colour, "dash": dash},
        meta=meta,
    )


def loss_figure(
    records: Sequence[Mapping[str, Any]],
    index: SeriesIndex | None = None,
    names: Mapping[str, str] | None = None,
) -> go.Figure:
    """Training (solid) and validation (dashed) loss per model, by training step.

    One legend entry per model (its colour); clicking it toggles both of its curves.
    A live view passes the ``index`` it keeps for ``records`` so that only new records are read.
    ``names`` maps job ids to the names shown in the legend (ids stay in the trace's meta).
    """
    fig = go.Figure()
    index = _indexed(records, index)
    colours = {job: _colour(i) for i, job in enumerate(index.jobs())}
    in_legend: set[str] = set()
    for kind, field, split, dash in SERIES["loss"]:
        for job, (xs, ys) in index.curves(kind, field, "step").items():
            name = (names or {}).get(job, job)
            fig.add_trace(
                _line(
                    xs,
                    ys,
                    kind,
                    name,
                    job not in in_legend,
                    f"{name} · {split}",
                    colours[job],
                    dash,
                    {"job": job, "split": split},
                )
            )
            in_legend.add(job)
    return _layout(fig, LOSS_TITLE, "step", "loss", SPLIT_NOTE)


def f1_figure(
    records: Sequence[Mapping[str, Any]],
    index: SeriesIndex | None = None,
    names: Mapping[str, str] | None = None,
) -> go.Figure:
    """Validation macro-F1 per model, by epoch (``index`` and ``names`` as in ``loss_figure``)."""
    fig = go.Figure()
    index = _indexed(records, index)
    colours = {job: _colour(i) for i, job in enumerate(index.jobs())}
    for job, (xs, ys) in index.curves(EVAL, "val_macro_f1", "epoch").items():
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers",
                name=(names or {}).get(job, job),
                line={"color": colours[job]},
                meta={"job": job},
            )
        )
    fig.update_yaxes(range=[0, 1.02])
    return _layout(fig, F1_TITLE, "epoch", "macro-F1")


# Compare: one colour per model, one line style and marker per session; training faint.
SESSION_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
SESSION_SYMBOLS = ("circle", "diamond", "square", "triangle-up", "x", "star")
COMPARE_NOTE = "colour: model · line style and marker: session"
SPLIT_STYLE = {  # (line width, opacity): training faint and thin, validation bold
    "train": (1.5, 0.45),
    "validation": (2.5, 1.0),
}


def _session_style(i: int) -> tuple[str, str, int]:
    """Line dash, marker symbol and marker size of the i-th session. Sizes shrink session by
    session, so where a relaunch scored exactly as its parent, the parent's marker still shows
    as a ring around the child's instead of hiding under it."""
    size = max(5, 12 - 3 * i)
    return SESSION_DASHES[i % len(SESSION_DASHES)], SESSION_SYMBOLS[i % len(SESSION_SYMBOLS)], size


def compare_figure(
    records_by_session: Mapping[str, Sequence[Mapping[str, Any]]],
    metric: str = "loss",
    titles: Mapping[str, str] | None = None,
    models: Mapping[str, str] | None = None,
) -> go.Figure:
    """Curves of several sessions overlaid by epoch.

    Each model keeps one colour in every session (a parent's model and its relaunch's have the
    same colour); each session has its own line style and marker symbol, so a curve drawn over
    an identical one still shows. Training is thin and faint, validation bold with markers.
    Traces are named "<session title> · <model name>" (``titles``: session id -> title,
    ``models``: job id -> readable name; ids only where no name is given).
    ``metric`` is "loss" (train + validation), "macro_f1" or "accuracy" (validation).
    """
    if metric not in SERIES:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(SERIES)}")
    titles, models = titles or {}, models or {}
    indexes = {
        session: SeriesIndex().update(records) for session, records in records_by_session.items()
    }
    jobs = list(dict.fromkeys(job for index in indexes.values() for job in index.jobs()))
    colours = {job: _colour(i) for i, job in enumerate(jobs)}
    fig = go.Figure()
    for i, (session, index) in enumerate(indexes.items()):
        dash, symbol, size = _session_style(i)
        title = titles.get(session, session)
        in_legend: set[str] = set()
        for kind, field, split, _ in SERIES[metric]:
            width, opacity = SPLIT_STYLE[split]
            for job, (xs, ys) in index.curves(kind, field, "epoch").items():
                model = models.get(job, job)
                name = f"{title} · {model}"
                if kind == TRAIN:
                    xs, ys = minmax_downsample(xs, ys, MAX_POINTS)
                fig.add_trace(
                    go.Scatter(
                        x=xs,
                        y=ys,
                        mode=_mode(kind, len(xs)),
                        name=name,
                        legendgroup=f"{session}::{job}",
                        showlegend=job not in in_legend,
                        hovertemplate=f"{name} · {split}: %{{y:.4f}}<extra></extra>",
                        line={"color": colours[job], "dash": dash, "width": width},
                        marker={"symbol": symbol, "size": size if kind == EVAL else size - 2},
                        opacity=opacity,
                        meta={"session": session, "job": job, "split": split, "model": model},
                    )
                )
                in_legend.add(job)
    if metric == "loss":
        note = f"{COMPARE_NOTE} · faint: training, bold: validation"
    else:
        note = f"{COMPARE_NOTE} · validation, one line per model"
    fig = _layout(fig, METRIC_TITLES[metric], "epoch", metric.replace("_", "-"), note)
    if metric != "loss":
        fig.update_yaxes(range=[0, 1.02])
    return fig


def _dropped_names(dropped: Iterable[Any]) -> set[str]:
    names = set()
    for item in dropped or []:
        if isinstance(item, str):
            names.add(item)
        elif isinstance(item, Mapping):
            names.add(str(item.get("label")))
        else:
            names.add(str(getattr(item, "label", item)))
    return names


def label_counts_figure(
    counts: Mapping[str, int],
    dropped: Iterable[Any] = (),
    title: str | None = "Examples per label",
    height: int | None = None,
) -> go.Figure:
    """Bars of examples per label, most frequent first; dropped labels in grey.

    ``dropped`` holds label names, or objects/dicts with a ``label`` (DroppedLabel).
    """
    gone = _dropped_names(dropped)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    labels = [label for label, _ in ordered]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=[count for _, count in ordered],
            marker_color=["#adb5bd" if label in gone else PALETTE[0] for label in labels],
            text=["dropped" if label in gone else "" for label in labels],
            textposition="outside",
            hovertemplate="%{x}: %{y} examples<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="label",
        yaxis_title="examples",
        showlegend=False,
        height=height,
        margin={"t": 60 if title else 20, "b": 10},
    )
    return fig
