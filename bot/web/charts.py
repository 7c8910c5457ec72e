"""Small server-side SVG charts: a trend line with its target, an age histogram coloured by
SLA state and a horizontal bar chart, each with a text alternative (`Table`): the same data.

No JavaScript. Every text that reaches the SVG (labels may be contributor-controlled, such as
organisation names) goes through `escape`; numbers are formatted here. Colours come from the
page's stylesheet through classes (`chart-*`), with fills as fallbacks for standalone use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

Fmt = Callable[[float], str]


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _open(kind: str, width: int, height: int, label: str, count: int) -> list[str]:
    return [
        f'<svg class="chart chart-{kind}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(label)}" data-points="{count}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(label)}</title>",
    ]


def _empty(parts: list[str], width: int, height: int, message: str) -> Markup:
    parts.append(
        f'<text class="chart-empty" x="{width / 2:.0f}" y="{height / 2:.0f}" '
        f'text-anchor="middle" fill="#6b7280">{escape(message)}</text></svg>'
    )
    return Markup("".join(parts))  # noqa: S704 (every piece above is escaped or numeric)


def _grid(
    parts: list[str],
    left: float,
    right: float,
    top: float,
    bottom: float,
    top_value: float,
    fmt: Fmt,
) -> None:
    for i in range(5):
        value = top_value * i / 4
        y = bottom - (bottom - top) * i / 4
        css = "chart-axis" if i == 0 else "chart-grid"
        parts.append(
            f'<line class="{css}" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e5e7eb"/>'
            f'<text class="chart-tick" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="#6b7280">{escape(fmt(value))}</text>'
        )


@dataclass(frozen=True)
class Table:
    """The text alternative of a chart: the same data as a table (caption, headers, rows)."""

    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class AgeBin:
    """Waiting items of one age band, split by SLA state."""

    name: str
    in_time: int
    overdue: int

    @property
    def total(self) -> int:
        return self.in_time + self.overdue


def _axis_titles(
    parts: list[str], width: int, height: int, left: int, x_title: str, y_title: str
) -> None:
    """The unit-bearing axis titles: y above the axis, x under the ticks."""
    parts.append(
        f'<text class="chart-axis-title" x="{left}" y="12" text-anchor="start" '
        f'fill="#374151">{escape(y_title)}</text>'
    )
    if x_title:
        parts.append(
            f'<text class="chart-axis-title" x="{(left + width) / 2:.0f}" y="{height - 4}" '
            f'text-anchor="middle" fill="#374151">{escape(x_title)}</text>'
        )


def line_chart(
    points: Sequence[tuple[str, float | None]],
    *,
    label: str,
    empty: str,
    fmt: Fmt = _num,
    y_title: str = "",
    x_title: str = "",
    target: float | None = None,
    target_label: str = "",
    width: int = 440,
    height: int = 250,
) -> Markup:
    """A line over weeks; None values break the line (weeks without any response). With
    `target`, a dashed horizontal line marks it (the SLA), labelled `target_label`."""
    values = [v for _, v in points if v is not None]
    parts = _open("line", width, height, label, len(values))
    if not values:
        return _empty(parts, width, height, empty)
    left, right, top, bottom = 52, width - 12, 28, height - (44 if x_title else 30)
    top_value = _nice_max(max([*values, *([target] if target is not None else [])]))
    _axis_titles(parts, width, height, left - 44, x_title, y_title)
    _grid(parts, left, right, top, bottom, top_value, fmt)
    step = (right - left) / max(len(points) - 1, 1)
    if target is not None:
        y = bottom - (bottom - top) * target / top_value
        parts.append(
            f'<line class="chart-target" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#b45309" stroke-width="2" stroke-dasharray="6 4"/>'
            f'<text class="chart-target-label" x="{right}" y="{y - 5:.1f}" text-anchor="end" '
            f'fill="#92400e">{escape(target_label)}</text>'
        )
    coords: list[tuple[float, float] | None] = []
    every = 1 if len(points) <= 6 else 2
    for i, (name, value) in enumerate(points):
        x = left + step * i if len(points) > 1 else (left + right) / 2
        if (len(points) - 1 - i) % every == 0:  # every other week, always the last one
            parts.append(
                f'<text class="chart-tick" x="{x:.1f}" y="{bottom + 18}" text-anchor="middle" '
                f'fill="#4b5563">{escape(name)}</text>'
            )
        coords.append(None if value is None else (x, bottom - (bottom - top) * value / top_value))
    segment: list[str] = []
    for c in [*coords, None]:
        if c is not None:
            segment.append(f"{c[0]:.1f},{c[1]:.1f}")
        elif segment:
            parts.append(
                f'<polyline class="chart-line" fill="none" stroke="#1d4ed8" stroke-width="2.5" '
                f'stroke-linejoin="round" points="{" ".join(segment)}"/>'
            )
            segment = []
    for (name, value), c in zip(points, coords, strict=True):
        if c is not None and value is not None:
            parts.append(
                f'<circle class="chart-point" cx="{c[0]:.1f}" cy="{c[1]:.1f}" r="4" '
                f'fill="#1d4ed8"><title>{escape(name)}: {escape(fmt(value))}</title></circle>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every piece above is escaped or numeric)


IN_TIME_FILL, OVERDUE_FILL = "#047857", "#b91c1c"


def age_histogram(
    bins: Sequence[AgeBin],
    *,
    label: str,
    empty: str,
    y_title: str,
    x_title: str,
    in_time: str,
    overdue: str,
    width: int = 440,
    height: int = 270,
) -> Markup:
    """Vertical bars per age band, each stacked as the SLA says: in time (green, below) and
    overdue (red, above), with a legend; an in-time item is never drawn red."""
    total = sum(b.total for b in bins)
    parts = _open("columns", width, height, label, total)
    if total == 0:
        return _empty(parts, width, height, empty)
    left, right, top, bottom = 44, width - 10, 46, height - 44
    top_value = 4.0 * max(1, math.ceil(_nice_max(max(b.total for b in bins)) / 4))
    _axis_titles(parts, width, height, left - 36, x_title, y_title)
    for k, (name, fill, css) in enumerate(
        ((in_time, IN_TIME_FILL, "ok"), (overdue, OVERDUE_FILL, "late"))
    ):
        key_x = left + 150 * k
        parts.append(
            f'<rect class="chart-key chart-key-{css}" x="{key_x}" y="20" width="12" height="12" '
            f'rx="2" fill="{fill}"/><text class="chart-legend" x="{key_x + 17}" y="30" '
            f'fill="#374151">{escape(name)}</text>'
        )
    _grid(parts, left, right, top, bottom, top_value, lambda v: f"{v:.0f}")
    slot = (right - left) / len(bins)
    bar = slot * 0.62
    for i, b in enumerate(bins):
        x = left + slot * i + (slot - bar) / 2
        base = float(bottom)
        for count, css, fill, state in (
            (b.in_time, "chart-bar chart-bar-ok", IN_TIME_FILL, in_time),
            (b.overdue, "chart-bar chart-bar-late", OVERDUE_FILL, overdue),
        ):
            if not count:
                continue
            h = (bottom - top) * count / top_value
            base -= h
            parts.append(
                f'<rect class="{css}" x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{fill}">'
                f"<title>{escape(b.name)}: {count} {escape(state)}</title></rect>"
            )
        parts.append(
            f'<text class="chart-tick" x="{x + bar / 2:.1f}" y="{bottom + 16}" '
            f'text-anchor="middle" fill="#4b5563">{escape(b.name)}</text>'
        )
        if b.total:
            parts.append(
                f'<text class="chart-value" x="{x + bar / 2:.1f}" y="{base - 5:.1f}" '
                f'text-anchor="middle" fill="#111827">{b.total}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every piece above is escaped or numeric)


def bar_chart(
    items: Sequence[tuple[str, int]],
    *,
    label: str,
    empty: str,
    width: int = 480,
    row: int = 28,
    limit: int = 8,
) -> Markup:
    """Horizontal bars, largest first, at most `limit` rows (names are shortened, escaped)."""
    shown = sorted(items, key=lambda kv: (-kv[1], kv[0].lower()))[:limit]
    height = max(row * len(shown) + 16, 120)
    parts = _open("bars", width, height, label, len(shown))
    if not shown or max(v for _, v in shown) <= 0:
        return _empty(parts, width, height, empty)
    left, right = 150, width - 40
    top_value = max(v for _, v in shown)
    for i, (name, value) in enumerate(shown):
        y = 8 + row * i
        w = (right - left) * value / top_value
        short = name if len(name) <= 22 else name[:21] + "…"
        parts.append(
            f'<text class="chart-label" x="{left - 10}" y="{y + row / 2 + 4:.1f}" '
            f'text-anchor="end" fill="#374151">{escape(short)}</text>'
            f'<rect class="chart-bar" x="{left}" y="{y + 4}" width="{max(w, 2):.1f}" '
            f'height="{row - 8}" rx="3" fill="#0f766e">'
            f"<title>{escape(name)}: {value}</title></rect>"
            f'<text class="chart-value" x="{left + max(w, 2) + 6:.1f}" y="{y + row / 2 + 4:.1f}" '
            f'fill="#111827">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every piece above is escaped or numeric)


AGE_EDGES: tuple[float, ...] = (1, 2, 5, 10, 20)  # business days


def age_bins(
    items: Sequence[tuple[float, bool]], edges: Sequence[float] = AGE_EDGES
) -> list[AgeBin]:
    """Waiting items (business days waited, overdue) per age band: <1, 1–2, 2–5, 5–10,
    10–20, 20+ business days, each split into in time and overdue."""
    in_time = [0] * (len(edges) + 1)
    late = [0] * (len(edges) + 1)
    for value, overdue in items:
        index = next((i for i, edge in enumerate(edges) if value < edge), len(edges))
        (late if overdue else in_time)[index] += 1
    names = [f"<{_num(edges[0])}"]
    names += [f"{_num(a)}–{_num(b)}" for a, b in zip(edges, edges[1:], strict=False)]
    names.append(f"{_num(edges[-1])}+")
    return [AgeBin(n, a, b) for n, a, b in zip(names, in_time, late, strict=True)]


# -- text alternatives ------------------------------------------------------------------------


def trend_table(
    points: Sequence[tuple[str, float | None]], *, caption: str, headers: tuple[str, str], fmt: Fmt
) -> Table:
    rows = tuple((name, "—" if v is None else fmt(v)) for name, v in points)
    return Table(caption, headers, rows)


def age_table(bins: Sequence[AgeBin], *, caption: str, headers: tuple[str, str, str, str]) -> Table:
    rows = tuple((b.name, str(b.in_time), str(b.overdue), str(b.total)) for b in bins)
    return Table(caption, headers, rows)


def bars_table(
    items: Sequence[tuple[str, int]], *, caption: str, headers: tuple[str, str]
) -> Table:
    """Every item, largest first (the chart shows the first few)."""
    ordered = sorted(items, key=lambda kv: (-kv[1], kv[0].lower()))
    return Table(caption, headers, tuple((name, str(n)) for name, n in ordered))
