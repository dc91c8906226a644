"""Charts for reports as inline SVG text: no image library, no network, sharp at any zoom."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

WIDTH, BAR_HEIGHT, LABEL_WIDTH = 480, 14, 140


def bar_chart(rows: Sequence[tuple[str, int]]) -> str:
    """Horizontal bars, one per (label, value), scaled to the largest value."""
    if not rows:
        return ""
    top = max(value for _, value in rows) or 1
    height = len(rows) * (BAR_HEIGHT + 4) + 4
    bars = []
    for index, (label, value) in enumerate(rows):
        y = 4 + index * (BAR_HEIGHT + 4)
        length = round((WIDTH - LABEL_WIDTH - 60) * value / top)
        bars.append(
            f'<text x="{LABEL_WIDTH - 4}" y="{y + 11}" text-anchor="end" font-size="9">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{max(length, 1)}" height="{BAR_HEIGHT}" fill="#3b6ea5"/>'
            f'<text x="{LABEL_WIDTH + length + 4}" y="{y + 11}" font-size="9">{value}</text>'
        )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}">{"".join(bars)}</svg>'


def line_chart(points: Sequence[int], *, height: int = 90) -> str:
    """A polyline of values at equal steps (events per minute, viewers over time)."""
    if len(points) < 2:
        return ""
    top = max(points) or 1
    step = (WIDTH - 10) / (len(points) - 1)
    coords = " ".join(f"{5 + i * step:.1f},{height - 5 - (height - 10) * v / top:.1f}" for i, v in enumerate(points))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}">'
        f'<line x1="5" y1="{height - 5}" x2="{WIDTH - 5}" y2="{height - 5}" stroke="#999"/>'
        f'<polyline points="{coords}" fill="none" stroke="#3b6ea5" stroke-width="1.5"/>'
        f'<text x="5" y="10" font-size="8">max {top}</text></svg>'
    )


def as_image_source(svg: str) -> str:
    """An SVG as a data: URI for an <img>, which report rendering loads without fetching anything."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii") if svg else ""
