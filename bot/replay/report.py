"""The replay's report: what Veilleur would have done, then the attention figures.

Three forms: Markdown, JSON and HTML. Logins, repository names and labels come from the
forge (outside text): Markdown escapes them, HTML escapes every value.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from bot.digest.attention import AttentionFigures, attention_figures, markdown_lines
from bot.forge.links import item_ref
from bot.messages.templating import escape_markdown
from bot.replay.engine import Produced, ReplayResult
from bot.sla.calendar import BusinessCalendar


def figures_of(
    result: ReplayResult,
    calendar_for: Callable[[str], BusinessCalendar],
    sla_days: Callable[[str], float],
) -> AttentionFigures:
    """Attention figures of the replayed period, from the timelines the replay produced."""
    items = result.history.items
    pairs = [(i, result.timelines.get((i.repo_full_name, i.number), [])) for i in items]
    login = result.history.veilleur_login or "veilleur[bot]"
    return attention_figures(pairs, result.start, result.end, [login], calendar_for, sla_days)


def summary(result: ReplayResult, figures: AttentionFigures, seconds: float) -> dict[str, Any]:
    counts = Counter(f"{p.what}:{p.kind}" for p in result.produced)
    return {
        "org": result.history.org,
        "from": result.start.isoformat(),
        "to": result.end.isoformat(),
        "repositories": len(result.history.repos),
        "items": len(result.history.items),
        "sweeps": result.sweeps,
        "item_evaluations": result.evaluations,
        "seconds": round(seconds, 2),
        "counts": dict(sorted(counts.items())),
        "attention": figures.to_json(),
        "targets": figures.targets(),
        "not_replayed": list(result.not_replayed),
    }


def _row(p: Produced) -> dict[str, Any]:
    row = asdict(p)
    row["at"] = p.at.isoformat()
    row["to"], row["listed"] = list(p.to), list(p.listed)
    return row


def render(
    result: ReplayResult, figures: AttentionFigures, seconds: float, fmt: str, limit: int = 500
) -> str:
    head = summary(result, figures, seconds)
    if fmt == "json":
        return json.dumps(
            head | {"produced": [_row(p) for p in result.produced]}, indent=1, ensure_ascii=False
        )
    if fmt == "html":
        return _html(head, result, figures, limit)
    return _markdown(head, result, figures, limit)


def _who(p: Produced) -> str:
    return ", ".join([*(f"@{x}" for x in p.to), *p.listed])


def _markdown(head: dict[str, Any], result: ReplayResult, f: AttentionFigures, limit: int) -> str:
    e = escape_markdown
    lines = [
        f"# Replay of {e(head['org'])}: {head['from']} to {head['to']}",
        "",
        f"{head['repositories']} repositories, {head['items']} items, {head['sweeps']} sweeps "
        f"({head['item_evaluations']} item evaluations) in {head['seconds']} s.",
        "",
        "## What Veilleur would have done",
        "",
        *(f"- {e(k)}: {v}" for k, v in head["counts"].items()),
        "",
        "## Attention",
        "",
        *markdown_lines(f),
        "",
        *(f"- target {k}: {'met' if ok else 'NOT met'}" for k, ok in head["targets"].items()),
        "",
        "## Not replayed",
        "",
        *(f"- {e(n)}" for n in head["not_replayed"]),
        "",
        "## Every action",
        "",
        "| when (UTC) | item | what | kind | to |",
        "|---|---|---|---|---|",
    ]
    for p in result.produced[:limit]:
        item = _ref(p)
        lines.append(
            f"| {p.at:%Y-%m-%d %H:%M} | {e(item)} | {p.what} | {e(p.kind)} | {e(_who(p))} |"
        )
    if len(result.produced) > limit:
        lines.append(f"\n{len(result.produced) - limit} more (use --format json for all).")
    return "\n".join(lines) + "\n"


def _html(head: dict[str, Any], result: ReplayResult, f: AttentionFigures, limit: int) -> str:
    h = html.escape
    fig = "".join(
        f"<tr><th>{h(str(k))}</th><td>{h(json.dumps(v, ensure_ascii=False))}</td></tr>"
        for k, v in f.to_json().items()
    )
    counts = "".join(f"<li>{h(k)}: {v}</li>" for k, v in head["counts"].items())
    targets = "".join(
        f"<li>{h(k)}: {'met' if ok else 'NOT met'}</li>" for k, ok in head["targets"].items()
    )
    notes = "".join(f"<li>{h(n)}</li>" for n in head["not_replayed"])
    rows = "".join(
        f"<tr><td>{p.at:%Y-%m-%d %H:%M}</td><td>{h(_ref(p))}</td>"
        f"<td>{h(p.what)}</td><td>{h(p.kind)}</td><td>{h(_who(p))}</td></tr>"
        for p in result.produced[:limit]
    )
    more = (
        f"<p>{len(result.produced) - limit} more (use --format json for all).</p>"
        if len(result.produced) > limit
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Replay of {h(head['org'])}</title></head><body>"
        f"<h1>Replay of {h(head['org'])}: {h(head['from'])} to {h(head['to'])}</h1>"
        f"<p>{head['repositories']} repositories, {head['items']} items, {head['sweeps']} "
        f"sweeps in {head['seconds']} s.</p>"
        f"<h2>What Veilleur would have done</h2><ul>{counts}</ul>"
        f"<h2>Attention</h2><table>{fig}</table><ul>{targets}</ul>"
        f"<h2>Not replayed</h2><ul>{notes}</ul>"
        "<h2>Every action</h2><table><tr><th>when (UTC)</th><th>item</th><th>what</th>"
        f"<th>kind</th><th>to</th></tr>{rows}</table>{more}</body></html>\n"
    )


def _ref(p: Any) -> str:
    """`repo#7`, `host/group/project!7` for a GitLab merge request, or the repository alone."""
    return item_ref(p.repo, p.number) if p.number is not None else p.repo
