"""Small server-side SVG charts: a trend line, a histogram and a horizontal bar chart.

No JavaScript. Every text that reaches the SVG (labels may be contributor-controlled, such as
organisation names) goes through `escape`; numbers are formatted here. Colours come from the
page's stylesheet through classes (`chart-*`), with fills as fallbacks for standalone use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

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
    parts: list[str], left: int, right: int, top: int, bottom: int, top_value: float, fmt: Fmt
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


def line_chart(
    points: Sequence[tuple[str, float | None]],
    *,
    label: str,
    empty: str,
    fmt: Fmt = _num,
    width: int = 1080,
    height: int = 230,
) -> Markup:
    """A line over weeks; None values break the line (weeks without any response)."""
    values = [v for _, v in points if v is not None]
    parts = _open("line", width, height, label, len(values))
    if not values:
        return _empty(parts, width, height, empty)
    left, right, top, bottom = 52, width - 16, 16, height - 34
    top_value = _nice_max(max(values))
    _grid(parts, left, right, top, bottom, top_value, fmt)
    step = (right - left) / max(len(points) - 1, 1)
    coords: list[tuple[float, float] | None] = []
    for i, (name, value) in enumerate(points):
        x = left + step * i if len(points) > 1 else (left + right) / 2
        if i % 2 == (len(points) - 1) % 2:  # every other week, always the last one
            parts.append(
                f'<text class="chart-tick" x="{x:.1f}" y="{height - 12}" text-anchor="middle" '
                f'fill="#6b7280">{escape(name)}</text>'
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


def column_chart(
    bins: Sequence[tuple[str, int]],
    *,
    label: str,
    empty: str,
    highlight_from: int | None = None,
    width: int = 480,
    height: int = 250,
) -> Markup:
    """Vertical bars (a histogram); bars from index `highlight_from` on are marked overdue."""
    total = sum(count for _, count in bins)
    parts = _open("columns", width, height, label, total)
    if total == 0:
        return _empty(parts, width, height, empty)
    left, right, top, bottom = 40, width - 12, 20, height - 34
    top_value = 4.0 * max(1, math.ceil(_nice_max(max(count for _, count in bins)) / 4))
    _grid(parts, left, right, top, bottom, top_value, lambda v: f"{v:.0f}")
    slot = (right - left) / len(bins)
    bar = slot * 0.62
    for i, (name, count) in enumerate(bins):
        x = left + slot * i + (slot - bar) / 2
        h = (bottom - top) * count / top_value
        late = highlight_from is not None and i >= highlight_from
        css, fill = ("chart-bar chart-bar-late", "#dc2626") if late else ("chart-bar", "#1d4ed8")
        parts.append(
            f'<rect class="{css}" x="{x:.1f}" y="{bottom - h:.1f}" width="{bar:.1f}" '
            f'height="{h:.1f}" rx="3" fill="{fill}"><title>{escape(name)}: {count}</title></rect>'
            f'<text class="chart-tick" x="{x + bar / 2:.1f}" y="{height - 12}" '
            f'text-anchor="middle" fill="#6b7280">{escape(name)}</text>'
        )
        if count:
            parts.append(
                f'<text class="chart-value" x="{x + bar / 2:.1f}" y="{bottom - h - 6:.1f}" '
                f'text-anchor="middle" fill="#111827">{count}</text>'
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


def age_bins(days: Sequence[float], edges: Sequence[float] = AGE_EDGES) -> list[tuple[str, int]]:
    """Waiting items per age band: <1, 1–2, 2–5, 5–10, 10–20, 20+ business days."""
    counts = [0] * (len(edges) + 1)
    for value in days:
        index = next((i for i, edge in enumerate(edges) if value < edge), len(edges))
        counts[index] += 1
    names = [f"<{_num(edges[0])}"]
    names += [f"{_num(a)}–{_num(b)}" for a, b in zip(edges, edges[1:], strict=False)]
    names.append(f"{_num(edges[-1])}+")
    return list(zip(names, counts, strict=True))
