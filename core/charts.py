"""Charts as hand-written SVG: the geometry here, the markup in ``macros/charts.html``.

One way to draw charts for the whole product. The SVG is inline markup without scripts or
style attributes (the Content-Security-Policy allows neither), styled by ``app.css``, and
every bar carries its label and figure as text, so a chart reads without colour and never
shows a number the page does not also state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    kind: str  # a CSS modifier: ``chart-bar-<kind>`` gives the fill
    y: float
    width: float  # of the bar, in SVG units; 0 for a zero or negative value
    shown: str = ""  # the figure as the page states it ("$1,250.00"), when not the plain value

    @property
    def text(self) -> str:
        return self.shown or f"{self.value:,}"


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars on one scale that starts at zero."""

    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int
    track_width: int
    bar_height: int

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)


def horizontal_bars(
    rows: Sequence[tuple[str, int, str]],
    *,
    width: int = 400,
    label_width: int = 84,
    value_width: int = 48,
    bar_height: int = 22,
    gap: int = 8,
    texts: Sequence[str] | None = None,
) -> BarChart:
    """Bars for ``rows`` of (label, value, kind), longest = the largest value; ``texts``, when
    given, are the figures written beside the bars (money as the page formats it). A negative
    value (a month of more credit than invoicing) draws no bar; its figure still shows."""
    track = width - label_width - value_width
    largest = max((value for _, value, _ in rows), default=0)
    bars = tuple(
        Bar(
            label=label,
            value=value,
            kind=kind,
            y=index * (bar_height + gap),
            width=round(track * value / largest, 1) if largest > 0 and value > 0 else 0,
            shown=texts[index] if texts is not None else "",
        )
        for index, (label, value, kind) in enumerate(rows)
    )
    height = max(len(bars) * (bar_height + gap) - gap, bar_height)
    return BarChart(bars, width, height, label_width, track, bar_height)
