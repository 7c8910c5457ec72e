"""The chart builders (bot/web/charts.py): units on the axes, the target line, colours by SLA
state, escaping, and the text alternative holding the same data as the chart."""

from __future__ import annotations

import re

from bot.web import charts

XSS = "<script>alert(1)</script>"


def _ys(svg: str, css: str) -> list[float]:
    return [float(y) for y in re.findall(rf'class="{css}"[^>]*?y1="([\d.]+)"', svg)]


def test_trend_line_has_units_a_gap_and_its_target() -> None:
    points = [("W01", 2.0), ("W02", None), ("W03", 8.5), ("W04", 4.0)]
    svg = charts.line_chart(
        points, label="TTFR", empty="none", fmt=lambda v: f"{v:g} h",
        y_title="Business hours", x_title="ISO week", target=24.0, target_label="target 24 h",
    )  # fmt: skip
    assert svg.startswith("<svg") and svg.endswith("</svg>") and 'data-points="3"' in svg
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 3  # a gap for W02
    titles = re.findall(r'class="chart-axis-title"[^>]*>([^<]+)<', svg)
    assert titles == ["Business hours", "ISO week"]
    assert re.search(r'class="chart-tick"[^>]*>\d+ h<', svg)  # ticks carry the unit
    assert "target 24 h" in svg and svg.count('class="chart-target"') == 1
    # the target sits where 24 sits on the axis: the axis (nice max 25) is 25 at its top
    (target_y,) = _ys(svg, "chart-target")
    grid = sorted(_ys(svg, "chart-grid") + _ys(svg, "chart-axis"))
    top, bottom = grid[0], grid[-1]
    assert abs(target_y - (bottom - (bottom - top) * 24 / 25)) < 0.2


def test_trend_without_data_says_so() -> None:
    svg = charts.line_chart([("W01", None)], label="TTFR", empty="Nothing yet", target=24.0)
    assert "Nothing yet" in svg and "chart-target" not in svg and 'data-points="0"' in svg


def test_age_bins_split_by_sla_state() -> None:
    bins = charts.age_bins([(0.5, False), (1.5, False), (3, True), (3, False), (25, True)])
    assert [(b.name, b.in_time, b.overdue) for b in bins] == [
        ("<1", 1, 0), ("1–2", 1, 0), ("2–5", 1, 1), ("5–10", 0, 0), ("10–20", 0, 0),
        ("20+", 0, 1),
    ]  # fmt: skip


def test_histogram_colours_each_item_by_its_own_sla_state() -> None:
    """An in-time item is never drawn red, even in a band holding overdue ones."""
    bins = charts.age_bins([(3, False), (3, False), (3, True), (25, True), (0.5, False)])
    svg = charts.age_histogram(
        bins, label="age", empty="none", y_title="Contributions",
        x_title="Business days waited", in_time="in time", overdue="overdue",
    )  # fmt: skip
    ok = re.findall(r'<rect class="chart-bar chart-bar-ok"[^>]*fill="([^"]+)"><title>([^<]+)<', svg)
    late = re.findall(
        r'<rect class="chart-bar chart-bar-late"[^>]*fill="([^"]+)"><title>([^<]+)<', svg
    )
    assert ok == [
        (charts.IN_TIME_FILL, "&lt;1: 1 in time"),
        (charts.IN_TIME_FILL, "2–5: 2 in time"),
    ]
    assert late == [
        (charts.OVERDUE_FILL, "2–5: 1 overdue"),
        (charts.OVERDUE_FILL, "20+: 1 overdue"),
    ]
    assert "Contributions" in svg and "Business days waited" in svg  # axis titles with units
    assert 'class="chart-key chart-key-ok"' in svg and ">in time<" in svg  # a legend
    assert 'data-points="5"' in svg


def test_every_chart_has_a_table_with_the_same_data() -> None:
    points = [("W01", 2.0), ("W02", None)]
    table = charts.trend_table(points, caption="TTFR", headers=("week", "h"), fmt=lambda v: f"{v}")
    assert table.rows == (("W01", "2.0"), ("W02", "—")) and table.caption == "TTFR"
    bins = charts.age_bins([(3, True), (3, False)])
    rows = charts.age_table(bins, caption="age", headers=("a", "b", "c", "d")).rows
    assert rows[2] == ("2–5", "1", "1", "2") and len(rows) == len(bins)
    bars = charts.bars_table([("Lyon", 2), ("Atos", 5), (XSS, 1)], caption="o", headers=("o", "n"))
    assert bars.rows == (("Atos", "5"), ("Lyon", "2"), (XSS, "1"))  # escaped by the template


def test_bar_chart_escapes_names_and_sorts_largest_first() -> None:
    bars = charts.bar_chart([(XSS, 3), ("Lyon", 5)], label="orgs <b>", empty="none")
    assert "<script" not in bars and "&lt;script&gt;" in bars and "orgs &lt;b&gt;" in bars
    assert bars.index("Lyon") < bars.index("&lt;script")
    empty = charts.bar_chart([], label="orgs", empty="Nothing yet")
    assert "Nothing yet" in empty and 'data-points="0"' in empty


def test_charts_stay_readable_at_390_px() -> None:
    """Drawn in a viewBox at most 440 units wide, so 12-unit text stays >= 9 px on a 390 px
    screen (a 350 px card), and scaled to the card's width."""
    svg = charts.line_chart([("W01", 1.0), ("W02", 2.0)], label="x", empty="none")
    width = float(re.search(r'viewBox="0 0 (\d+)', svg)[1])  # type: ignore[index]
    assert width <= 440 and 'width="100%"' in svg and 12 * 350 / width >= 9
