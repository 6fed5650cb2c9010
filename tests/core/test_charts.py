"""Charts are SVG geometry on a scale from zero, every bar labelled with its figure."""

from __future__ import annotations

from flask import render_template_string

from core.charts import horizontal_bars


def test_bars_share_one_scale_from_zero_and_the_largest_fills_the_track():
    chart = horizontal_bars(
        [("Proposed", 4, "proposed"), ("Ordered", 2, "ordered"), ("Expired", 0, "expired")]
    )
    proposed, ordered, expired = chart.bars
    assert proposed.width == chart.track_width
    assert ordered.width == chart.track_width / 2
    assert expired.width == 0
    assert chart.total == 6
    assert [bar.y for bar in chart.bars] == sorted(bar.y for bar in chart.bars)


def test_a_chart_of_nothing_has_no_bars_of_any_length():
    chart = horizontal_bars([("Proposed", 0, "proposed")])
    assert chart.bars[0].width == 0
    assert chart.height > 0


def test_the_svg_names_each_figure_in_text_and_runs_no_script(app):
    chart = horizontal_bars([("Ordered", 1234, "ordered"), ("Declined", 5, "declined")])
    with app.test_request_context():
        svg = render_template_string(
            '{% from "macros/charts.html" import bar_chart %}{{ bar_chart(chart, "Outcomes", "c") }}',
            chart=chart,
        )
    assert "<title" in svg
    assert "Ordered 1,234, Declined 5" in svg
    assert ">1,234</text>" in svg
    assert ">Ordered</text>" in svg
    assert "<script" not in svg
    assert "style=" not in svg
