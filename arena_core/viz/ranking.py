"""The benchmark ranking of one key as a horizontal bar chart (data in, figure out).

Rows are ``arena_core.run.benchmark.ranking`` rows, best first. The best model is drawn at the
top in the accent colour; the error bars are the standard deviation over seeds, and each model's
axis label says its mean ± std and training time (kept off the bars, where the error bars would
cross it), so the chart reads without hovering.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from arena_core.viz.charts import PALETTE

OTHER_COLOUR = "#adb5bd"
BAR_HEIGHT = 54  # pixels per model: the chart grows with the candidates


def duration(seconds: float | None) -> str:
    """'42 s', '3 min 05 s', '1 h 02 min': training times as people say them."""
    if seconds is None:
        return "unknown time"
    whole = int(round(seconds))
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _tick(row: Mapping[str, Any]) -> str:
    """The model's axis label: name, then mean ± std and time (readable without hovering)."""
    stats = f"{row['score_mean']:.3f} ± {row['score_std']:.3f} · {duration(row['seconds'])}"
    return f"<b>{row['model']}</b><br>{stats}"


def _hover(row: Mapping[str, Any]) -> str:
    lines = [
        f"<b>{row['model']}</b>",
        f"score {row['score_mean']:.3f} ± {row['score_std']:.3f} over {row['n_seeds']} seeds",
        f"training time {duration(row['seconds'])} (mean over seeds)",
    ]
    lines += [f"{lang}: {value:.3f}" for lang, value in (row.get("per_language") or {}).items()]
    return "<br>".join(lines)


def ranking_figure(
    rows: Sequence[Mapping[str, Any]], title: str, metric: str = "macro-F1"
) -> go.Figure:
    """One bar per model with a score (best on top), std error bars, seconds in the labels."""
    scored = [r for r in rows if r.get("score_mean") is not None]
    models = [str(r["model"]) for r in scored]
    fig = go.Figure(
        go.Bar(
            x=[r["score_mean"] for r in scored],
            y=models,
            orientation="h",
            error_x={"type": "data", "array": [r["score_std"] or 0.0 for r in scored]},
            marker_color=[PALETTE[0] if i == 0 else OTHER_COLOUR for i in range(len(scored))],
            hovertext=[_hover(r) for r in scored],
            hoverinfo="text",
        )
    )
    fig.update_layout(
        title={"text": title},
        xaxis={"title": metric, "range": [0, 1.05]},
        yaxis={
            "autorange": "reversed",
            "type": "category",
            "tickvals": models,
            "ticktext": [_tick(r) for r in scored],
        },
        showlegend=False,
        height=90 + BAR_HEIGHT * max(len(scored), 1),
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
    )
    return fig
