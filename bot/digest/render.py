"""The digest as text: Markdown and HTML (templates `templates/<lang>/digest/`), CSV, JSON.

Markdown goes through `bot.messages.templating.Renderer` (sandboxed, every value escaped for
Markdown, mentions broken). HTML uses a sandboxed environment of its own with HTML autoescaping over
the same template folders, since Markdown escapes would show in HTML. The templates only
receive `view()`'s plain data: numbers already formatted for the language.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

from bot.digest.model import Digest
from bot.forge.links import item_ref
from bot.messages import l10n
from bot.messages.l10n import template_helpers
from bot.messages.templating import FALLBACK_LANGUAGE, Renderer, RenderResult, plain_text

REPORT = "digest/report"  # Markdown: CLI `--format md` and the OSPO issue
REPORT_HTML = "digest/report.html.j2"  # HTML: CLI `--format html` and the mail's HTML part
ISSUE_LIMIT = 50  # rows per list in the issue and mail (an issue body holds 65,536 chars)


def _number(value: float | None, lang: str, digits: int = 1) -> str:
    return l10n.number(value, lang, digits)


def _percent(share: float | None, lang: str) -> str:
    return l10n.percent(share, lang)


def _ttfr(t: Any, lang: str) -> dict[str, Any]:
    return {
        "group": t.group,
        "opened": t.items,
        "answered": t.answered,
        "unanswered": t.unanswered,
        "median": _number(t.median_business_hours, lang),
        "p90": _number(t.p90_business_hours, lang),
        "within_sla": _percent(t.within_sla_share, lang),
    }


def view(d: Digest, lang: str, limit: int | None = None) -> dict[str, Any]:
    """Template data: every figure of the digest, formatted; lists cut to `limit` rows."""

    def cut(rows: list[Any]) -> list[Any]:
        return rows if limit is None else rows[:limit]

    last_day = (d.end - timedelta(microseconds=1)).date()
    attention = [r for r in d.repositories if r.inactive or r.oldest_wait_business_days]
    return {
        "org": d.org,
        "week": d.week,
        "members": list(d.members),
        "members_left_out": d.members_left_out,
        "period_start": l10n.day(d.start.date(), lang),
        "period_end": l10n.day(last_day, lang),
        "generated_at": l10n.stamp(d.generated_at, lang),
        "ttfr": [_ttfr(d.ttfr_outside, lang), _ttfr(d.ttfr_inside, lang)],
        "volume": asdict(d.volume),
        "closure_ratio": _percent(d.change_request_closure_ratio, lang),
        "waiting": [
            asdict(w)
            | {
                "ref": item_ref(w.repo, w.number),
                "days": _number(w.business_days_waiting, lang),
                "organisation": l10n.organisation(w.organisation, lang),
                "author_class": l10n.author_class(w.author_class, lang),
            }
            for w in cut(d.waiting)
        ],
        "waiting_total": len(d.waiting),
        "waiting_more": len(d.waiting) - len(cut(d.waiting)),
        "overdue_total": sum(w.overdue for w in d.waiting),
        "new_contributors": [
            asdict(c)
            | {
                "ref": item_ref(c.repo, c.number),
                "organisation": l10n.organisation(c.organisation, lang),
            }
            for c in cut(d.new_contributors)
        ],
        "new_contributors_total": len(d.new_contributors),
        "organisations": [
            asdict(o) | {"name": l10n.organisation(o.name, lang)} for o in cut(d.organisations)
        ],
        "organisations_total": len(d.organisations),
        "new_organisations": list(d.new_organisations),
        "elephant_factor": "—" if d.elephant_factor is None else d.elephant_factor,
        "repositories": [
            asdict(r)
            | {
                "oldest": _number(r.oldest_wait_business_days, lang),
                "ttfr": _number(r.ttfr_median_business_hours, lang),
                "last_response": l10n.day(r.last_maintainer_response, lang),
            }
            for r in cut(attention)
        ],
        "repositories_more": len(attention) - len(cut(attention)),
        "retention": _retention(d, lang),
        "attention_decisions": d.attention_decisions,
        "trends": [
            asdict(p) | {"ttfr": _number(p.ttfr_median_business_hours, lang)} for p in d.trend_12w
        ],
        "attention": _attention(d.attention, lang),
    }


def _attention(a: dict[str, Any] | None, lang: str) -> dict[str, Any] | None:
    """How much Veilleur said this week (bot/digest/attention.py), formatted."""
    if a is None:
        return None
    return {
        "bot_comments": a["bot_comments"],
        "comments": a["comments"],
        "bot_share": _percent(a["bot_comment_share"], lang),
        "reminders": a["reminders"] + a["escalations"],
        "reminder_share": _percent(a["reminder_share"], lang),
        "mentions_max": a["mentions_max_per_person_week"],
        "mentions_p90": _number(a["mentions_p90_per_person_week"], lang, 0),
        "after_action": a["reminded_after_action"],
        "to_actor": a["reminders_to_recent_actor"],
    }


def _retention(d: Digest, lang: str) -> dict[str, Any] | None:
    r = d.retention
    if r is None:
        return None
    last_day = (r.cohort_end - timedelta(microseconds=1)).date()
    return {
        "start": l10n.day(r.cohort_start.date(), lang),
        "end": l10n.day(last_day, lang),
        "new": r.new,
        "came_back": r.came_back,
        "share": _percent(r.share, lang),
    }


def markdown(d: Digest, lang: str, renderer: Renderer, limit: int | None = None) -> RenderResult:
    return renderer.render(REPORT, lang, **view(d, lang, limit))


class HtmlRenderer:
    """Sandboxed Jinja with HTML autoescaping, over `templates/<lang>/digest/*.html.j2`."""

    def __init__(self, templates_dir: Path | str) -> None:
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, lang: str, **data: Any) -> RenderResult:
        for candidate in dict.fromkeys([lang, FALLBACK_LANGUAGE]):
            try:
                template = self.env.get_template(f"{candidate}/{name}")
            except TemplateNotFound:
                continue
            module = template.make_module(template_helpers(candidate) | data)
            raw_title = getattr(module, "title", None)
            title = plain_text(" ".join(str(raw_title).split())) if raw_title else None
            return RenderResult(str(module).strip() + "\n", name, candidate, title)
        raise TemplateNotFound(f"{lang}/{name}")


def html(d: Digest, lang: str, renderer: Renderer, limit: int | None = None) -> RenderResult:
    return HtmlRenderer(renderer.templates_dir).render(REPORT_HTML, lang, **view(d, lang, limit))


CSV_FIELDS = ["org", "week", "section", "item", "metric", "value"]


def _cell(value: Any) -> Any:
    """A CSV value: booleans as true/false, nothing as empty, instants in ISO 8601; text a
    spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_rows(d: Digest) -> list[tuple[str, str, str, Any]]:
    """The digest as (section, item, metric, value) rows: every figure, one per row."""
    rows: list[tuple[str, str, str, Any]] = []

    def add(section: str, item: str, data: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
        rows.extend((section, item, k, v) for k, v in data.items() if k not in skip)

    for t in (d.ttfr_outside, d.ttfr_inside):
        add("time_to_first_response", t.group, asdict(t), skip=("group",))
    add("volume", "", asdict(d.volume))
    add("metrics", "", {
        "change_request_closure_ratio": d.change_request_closure_ratio,
        "elephant_factor": d.elephant_factor,
        "waiting": len(d.waiting),
        "overdue": sum(w.overdue for w in d.waiting),
        "new_contributors": len(d.new_contributors),
        "members_left_out": d.members_left_out,
    })  # fmt: skip
    for member in d.members:
        add("members", member, {"included": True})
    for w in d.waiting:
        add("waiting", item_ref(w.repo, w.number), asdict(w), skip=("repo", "number"))
    for c in d.new_contributors:
        add("new_contributors", c.login, asdict(c), skip=("login",))
    for o in d.organisations:
        add("organisations", o.name, asdict(o), skip=("name",))
    for h in d.repositories:
        add("repositories", h.repo, asdict(h), skip=("repo", "inactive"))
    for p in d.trend_12w:
        add("trend", p.week, asdict(p), skip=("week",))
    if d.retention is not None:
        r = d.retention
        add("retention", "", {
            "cohort_start": r.cohort_start, "cohort_end": r.cohort_end,
            "new_contributors": r.new, "came_back": r.came_back, "share": r.share,
        })  # fmt: skip
        for back in r.contributors:
            add("retention", back.login, asdict(back), skip=("login",))
    for a in d.attention_decisions:
        item = f"{a['repo']}:{a['rule']}:{a['outcome']}" + (
            f":{a['person']}" if a["person"] else ""
        )
        add("attention_budget", item, {"times": a["times"], "highest": a["highest"],
                                       "limit": a["limit"]})  # fmt: skip
    return rows


def to_csv(d: Digest) -> str:
    """One tidy table (one figure a row: org, week, section, item, metric, value), so a
    spreadsheet's pivot table or a `section` filter gives each section back."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for section, item, metric, value in csv_rows(d):
        writer.writerow([_cell(d.org), d.week, section, _cell(item), metric, _cell(value)])
    return out.getvalue()


def to_json_text(d: Digest) -> str:
    return json.dumps(d.to_json(), indent=2, ensure_ascii=False) + "\n"


def render_digest(
    d: Digest, fmt: str = "md", lang: str = "en", renderer: Renderer | None = None
) -> str:
    """The digest in one of the CLI's formats: md, html, csv or json."""
    if fmt == "json":
        return to_json_text(d)
    if fmt == "csv":
        return to_csv(d)
    if fmt not in ("md", "html"):
        raise ValueError(f"unknown digest format {fmt!r} (md, html, csv or json)")
    make = html if fmt == "html" else markdown
    return make(d, lang, renderer or Renderer()).text


def email_data(d: Digest, limit: int = ISSUE_LIMIT) -> dict[str, Any]:
    """Data of the existing `digest_email` template (plain-text part and subject)."""
    answered = round((d.ttfr_outside.within_sla_share or 0.0) * d.ttfr_outside.items)
    return {
        "scope": d.org,
        "members": list(d.members),
        "members_left_out": d.members_left_out,
        "period_start": d.start.date().isoformat(),
        "period_end": (d.end - timedelta(microseconds=1)).date().isoformat(),
        "totals": {
            "new": d.ttfr_outside.items,
            "answered": answered,
            "overdue": sum(w.overdue for w in d.waiting),
            "waiting": len(d.waiting),
        },
        "items": [
            {
                "repo": w.repo,
                "number": w.number,
                "title": w.title,
                "author": w.author,
                "author_class": w.author_class,
                "business_days": int(w.business_days_waiting),
                "overdue": w.overdue,
                "responsible": [],
            }
            for w in d.waiting[:limit]
        ],
    }
