"""Plotly figures as JSON for the pages (drawn in the browser by the vendored plotly.js).

Each function turns series a use case returned into a figure spec: traces and a layout, no
computation beyond picking columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

LAYOUT = {
    "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
    "height": 320,
    "legend": {"orientation": "h"},
    "template": "plotly_white",
}


DIVERGING = [[0.0, "#d73027"], [0.5, "#ffffbf"], [1.0, "#1a9850"]]
"""Low red, middle pale yellow, high green (plotly.js has no RdYlGn by name)."""


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, int | str):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return None if math.isnan(number) or math.isinf(number) else number


def _list(values: Iterable[Any]) -> list[Any]:
    return [_plain(value) for value in values]


def to_json(figure: Mapping[str, Any]) -> str:
    """The figure as JSON safe to embed in a `<script type="application/json">` element."""
    return json.dumps(figure, default=str).replace("</", "<\\/")


def figure(traces: list[dict[str, Any]], title: str, **layout: Any) -> dict[str, Any]:
    return {"data": traces, "layout": {**LAYOUT, "title": {"text": title}, **layout}}


def line(x: Iterable[Any], y: Iterable[Any], name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "scatter", "mode": "lines", "x": _list(x), "y": _list(y), "name": name, **extra}


def bars(
    labels: Sequence[Any], values: Iterable[Any], name: str, *, horizontal: bool = False
) -> dict[str, Any]:
    if horizontal:
        return {
            "type": "bar",
            "orientation": "h",
            "y": _list(labels),
            "x": _list(values),
            "name": name,
        }
    return {"type": "bar", "x": _list(labels), "y": _list(values), "name": name}


def markers(
    x: Iterable[Any],
    y: Iterable[Any],
    name: str,
    symbol: str,
    color: str,
    text: Iterable[Any],
    *,
    size: int = 10,
) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "markers",
        "x": _list(x),
        "y": _list(y),
        "name": name,
        "text": _list(text),
        "marker": {
            "symbol": symbol,
            "color": color,
            "size": size,
            "line": {"color": color, "width": 3},
        },
    }


def heatmap(
    z: Sequence[Sequence[Any]], x: Sequence[Any], y: Sequence[Any], name: str
) -> dict[str, Any]:
    return {
        "type": "heatmap",
        "z": [_list(row) for row in z],
        "x": [str(value) for value in x],
        "y": [str(value) for value in y],
        "name": name,
        "colorscale": DIVERGING,
        "colorbar": {"title": {"text": name}},
        "texttemplate": "%{z:.3g}",
    }


def from_plotly(fig: Any) -> dict[str, Any]:
    """A `plotly.graph_objects.Figure` (the tearsheet's) as a plain figure spec."""
    spec: dict[str, Any] = json.loads(fig.to_json())
    return spec
