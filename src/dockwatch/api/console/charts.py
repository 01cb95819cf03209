"""Server-rendered SVG charts: the numbers in, geometry out (the template draws it).

A chart is accessible by construction: the template gives it a title and a description
(`role="img"`, `aria-labelledby`) and the page shows the same numbers as a table.
"""

from __future__ import annotations

from dockwatch.queries.trend import OpenTrend
from dockwatch.value_class import frozen

WIDTH, HEIGHT, PAD = 640, 220, 32


@frozen
class Line:
    """One severity's polyline (`points` as SVG wants them) and its class name for colour."""

    severity: str
    points: str
    last: int


@frozen
class LineChart:
    """Lines over a common scale, with the top value and the first and last day's labels."""

    width: int
    height: int
    top: int
    lines: tuple[Line, ...]
    first_label: str
    last_label: str


def trend_chart(trend: OpenTrend) -> LineChart:
    """One line per severity that had findings in the period, scaled to the largest count."""
    n = len(trend.days)
    top = max([1, *(max(series) for series in trend.counts.values() if series)])
    step = (WIDTH - 2 * PAD) / max(1, n - 1)
    lines = []
    for severity, series in trend.counts.items():
        if not any(series):
            continue
        points = " ".join(
            f"{PAD + i * step:.1f},{HEIGHT - PAD - (v / top) * (HEIGHT - 2 * PAD):.1f}"
            for i, v in enumerate(series)
        )
        lines.append(Line(severity, points, series[-1]))
    first = trend.days[0].isoformat() if n else ""
    last = trend.days[-1].isoformat() if n else ""
    return LineChart(WIDTH, HEIGHT, top, tuple(lines), first, last)
