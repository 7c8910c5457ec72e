"""Triage of outside contributions: labels, a welcome, what is missing, and whose turn it is.

Pure step: `plan(TriageInput, renderer)` -> actions. I/O step: `handle` gathers the facts
(config, author class, first-time status, PR files and commits, community links) first.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatch
from typing import Any

from bot.dispatch.context import Context, Event
from bot.effects.actions import Action, AddLabels, EnsureLabel, UpsertComment, marker
from bot.effects.labels import LABEL_STYLE
from bot.messages.templating import Renderer, T
from bot.record.markdown_scan import atx_heading, code_free_lines, sections, strip_checkbox, visible
from bot.record.people import Classification, is_bot_account
from bot.sla.rules import answer_by
from handlers.config_watch import report_override_failures
from handlers.issue_templates import Scaffolding, repository_templates

NAME = "triage"
EVENTS = {
    ("issues", "opened"),
    ("issues", "reopened"),
    ("pull_request", "opened"),
    ("pull_request", "reopened"),
}

# Each token of a body, checked alone: `#12`, `owner/repo#12` (linear: no `/` inside a part).
_ISSUE_REF = re.compile(r"(?:[\w.-]+/[\w.-]+)?#\d+\b")
_ISSUE_URL = re.compile(r"/issues/\d")


@dataclass(frozen=True)
class TriageInput:
    repo: str
    number: int
    is_pull: bool
    title: str
    body: str
    author: str
    author_class: Classification
    first_time: bool
    lang: str
    config: Any  # VeilleurConfig
    files: tuple[str, ...] = ()
    commit_messages: tuple[str, ...] = ()
    links: dict[str, str | None] = field(default_factory=dict)
    no_comments: bool = False  # nobody had commented when the event was sent
    templates: tuple[str, ...] = ()  # the repository's issue templates (Markdown, forms)
    opened_at: datetime | None = None  # when the item was opened: the answer-by date's start
    draft: bool = False  # a draft pull request waits for nobody until it is ready


def meaningful_text(body: str) -> str:
    """The body without template scaffolding: comments, headings and empty checkboxes."""
    words: list[str] = []
    for raw, prose in code_free_lines(visible(body)):
        if prose and atx_heading(raw.rstrip()) is not None:
            continue
        words += strip_checkbox(raw).split()
    return " ".join(words)


def missing_sections(body: str, required: list[str]) -> list[str]:
    """Required headings that are absent or left empty."""
    found = {h.strip().lower(): meaningful_text(text) for h, text in sections(body)[1]}
    return [s for s in required if not found.get(s.strip().lower())]


def links_an_issue(body: str) -> bool:
    """`#12`, `owner/repo#12` or an `/issues/12` URL anywhere in the body."""
    if _ISSUE_URL.search(body):
        return True
    return any(_ISSUE_REF.match(token) for token in body.replace("(", " ").split())


def signed_off(message: str) -> bool:
    """A commit message with a `Signed-off-by: Name <email>` line (DCO)."""
    for line in message.splitlines():
        if not line.startswith("Signed-off-by: ") or not line.endswith(">"):
            continue
        rest = line.removeprefix("Signed-off-by: ")
        at = rest.find(" <", 1)
        if 0 < at and at + 2 < len(rest) - 1:
            return True
    return False


def pr_checks(inp: TriageInput) -> list[dict[str, Any]]:
    cfg = inp.config.pr_checklist
    checks: list[dict[str, Any]] = []
    if cfg.tests:
        ok = any(fnmatch(f, g) for f in inp.files for g in cfg.test_globs)
        checks.append({"key": "tests", "ok": ok})
    if cfg.changelog:
        names = [n.lower() for n in getattr(cfg, "changelog_files", ["CHANGELOG.md"])]
        ok = any(f.lower() in names or f.lower().startswith("changelog") for f in inp.files)
        checks.append({"key": "changelog", "ok": ok})
    if cfg.dco:
        ok = bool(inp.commit_messages) and all(signed_off(m) for m in inp.commit_messages)
        checks.append({"key": "dco", "ok": ok})
    if cfg.linked_issue:
        checks.append({"key": "linked_issue", "ok": links_an_issue(inp.body)})
    return checks


def area_labels(inp: TriageInput) -> list[str]:
    areas = inp.config.areas
    labels: list[str] = []
    if inp.is_pull:
        for area in areas.paths:
            if any(fnmatch(f, area.glob) for f in inp.files):
                labels.append(area.label)
    else:
        text = f" {inp.title} {inp.body} ".lower()
        for area in areas.keywords:
            words = [w.lower() for ws in area.words.values() for w in ws]
            if any(re.search(rf"\b{re.escape(w)}\b", text) for w in words):
                labels.append(area.label)
    return list(dict.fromkeys(labels))


def welcome_answer_by(inp: TriageInput) -> datetime | None:
    """By when a maintainer should answer, in the repository's time zone (None for a draft
    pull request, whose wait starts when it is marked ready)."""
    if inp.opened_at is None or (inp.draft and not inp.config.sla.drafts_wait):
        return None
    return answer_by(inp.opened_at, inp.config)


def welcome_key(inp: TriageInput) -> str:
    """A person is welcomed once per owner (organisation or user), not once per repository
    and kind: a second first contribution elsewhere in the organisation gets no new welcome."""
    return f"welcome:{inp.repo.split('/')[0].lower()}:{inp.author.lower()}"


def welcome_text(inp: TriageInput, renderer: Renderer, needs_details: bool) -> str | None:
    """The welcome of a first-time contributor, when the configuration wants one."""
    cfg = inp.config
    wanted = cfg.welcome.pull_requests if inp.is_pull else cfg.welcome.issues
    if not (cfg.welcome.enabled and inp.first_time and wanted):
        return None
    return renderer.render(
        T.WELCOME_PULL if inp.is_pull else T.WELCOME_ISSUE,
        inp.lang,
        author=inp.author,
        repo=inp.repo,
        first_time=True,
        response_days=cfg.sla.first_response_days,
        answer_by=welcome_answer_by(inp),
        partner=inp.author_class.partner,
        needs_details=needs_details,
        **inp.links,
    ).tagged


def plan(inp: TriageInput, renderer: Renderer) -> list[Action]:
    """Pure step: what to do about a just-opened outside contribution."""
    if not inp.author_class.is_outside:
        return []
    cfg, names = inp.config, inp.config.labels
    styled: list[tuple[str, str]] = []
    if inp.author_class.partner:
        styled.append((names.partner(inp.author_class.partner), "partner"))
    else:
        styled.append((names.external, "external"))
    if inp.first_time:
        styled.append((names.first_time, "first_time"))
    styled.append((names.needs_triage, "needs_triage"))
    styled += [(label, "area") for label in area_labels(inp)]

    item = f"{inp.repo}#{inp.number}"
    request: tuple[str, str] | None = None  # (marker, text) of the request for details
    if not inp.is_pull and cfg.request_info.enabled:
        body = Scaffolding.of(inp.templates).strip(inp.body)  # template text left untouched
        missing = missing_sections(body, list(cfg.request_info.required_sections))
        too_short = len(meaningful_text(body)) < cfg.request_info.min_body_chars
        if missing or too_short:
            text = renderer.render(
                T.REQUEST_INFO_ISSUE,
                inp.lang,
                author=inp.author,
                missing_sections=missing,
                too_short=too_short,
                min_body_chars=cfg.request_info.min_body_chars,
            ).tagged
            request = (marker("request-info", item), text)
    if inp.is_pull and cfg.pr_checklist.enabled:
        checks = pr_checks(inp)
        if any(not c["ok"] for c in checks):
            text = renderer.render(
                T.PR_CHECKLIST, inp.lang, author=inp.author, checks=checks
            ).tagged
            request = (marker("pr-checklist", item), text)
    needs_author = request is not None
    welcome = welcome_text(inp, renderer, needs_author)
    comments: list[Action] = []
    if welcome is not None and request is not None:
        # One comment, not two: the welcome (once per person and owner) and the request;
        # someone welcomed before gets the request alone (`otherwise`).
        comments.append(
            UpsertComment(
                inp.repo,
                inp.number,
                request[0],
                f"{marker('welcome', item)}\n{welcome}\n\n{request[1]}",
                update_existing=False,
                once=welcome_key(inp),
                otherwise=request[1],
                item_had_no_comments=inp.no_comments,
            )
        )
    elif welcome is not None:
        comments.append(
            UpsertComment(
                repo=inp.repo,
                number=inp.number,
                marker=marker("welcome", item),
                body=welcome,
                update_existing=False,
                once=welcome_key(inp),
                item_had_no_comments=inp.no_comments,
            )
        )
    elif request is not None:
        comments.append(
            UpsertComment(inp.repo, inp.number, *request, item_had_no_comments=inp.no_comments)
        )
    styled.append(
        (names.awaiting_author, "awaiting_author")
        if needs_author
        else (names.awaiting_maintainer, "awaiting_maintainer")
    )
    labels = list(dict.fromkeys(name for name, _ in styled))
    actions: list[Action] = [
        EnsureLabel(inp.repo, name, *LABEL_STYLE[style]) for name, style in dict(styled).items()
    ]
    actions.append(AddLabels(inp.repo, inp.number, tuple(labels)))
    return actions + comments


# -- I/O step ---------------------------------------------------------------------------------


async def community_links(api: Any, repo: str, cache: Any = None) -> dict[str, str | None]:
    """Links of the welcome, from the community profile (cached per repository)."""
    if cache is not None:
        profile = await cache.community_profile(repo, lambda: api.community_profile(repo)) or {}
    else:
        profile = await api.community_profile(repo) or {}
    files = profile.get("files") or {}

    def url(key: str) -> str | None:
        value = files.get(key)
        return value.get("html_url") if isinstance(value, dict) else None

    return {
        "contributing_url": url("contributing"),
        "code_of_conduct_url": url("code_of_conduct_file") or url("code_of_conduct"),
        "support_url": profile.get("documentation") or None,
    }


async def issue_templates(api: Any, repo: str, cache: Any, wanted: bool) -> tuple[str, ...]:
    """The repository's issue templates, the reference of "untouched" (cached per repository)."""
    if not wanted:
        return ()
    if cache is not None:
        return tuple(await cache.issue_templates(repo, lambda: repository_templates(api, repo)))
    return tuple(await repository_templates(api, repo))


async def is_first_time(api: Any, repo: str, login: str, number: int) -> bool:
    """Never opened an issue or PR here before (from the forge, not author_association)."""
    mine = await api.list_issues(repo, creator=login, state="all", per_page=100)
    return not any(i.get("number") != number for i in mine)


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


async def handle(event: Event, ctx: Context) -> None:
    from bot.messages.language import item_language

    raw, repo, api = event.item, event.repo, ctx.github
    if raw is None or repo is None or api is None:
        return
    services = ctx.services
    resolved = await ctx.config()
    if resolved is None:
        return
    cfg = resolved.config
    author = event.item_author
    if is_bot_account(author) and cfg.ignore_bots:
        return
    who = await services["classifier"].classify(api, repo, author, event)
    if not who.is_outside:
        return
    is_pull = event.name == "pull_request"
    login = author.get("login", "")
    number = raw["number"]

    async def pull_files() -> tuple[str, ...]:
        if not is_pull:
            return ()
        return tuple(f["filename"] for f in await api.list_pull_files(repo, number))

    async def commit_messages() -> tuple[str, ...]:
        if not (is_pull and cfg.pr_checklist.enabled and cfg.pr_checklist.dco):
            return ()
        return tuple(
            (c.get("commit") or {}).get("message", "")
            for c in await api.list_pull_commits(repo, number)
        )

    overrides: Any = services["overrides"]  # Any: gather's types stop at six awaitables
    # Independent look-ups, at the same time: one round trip of waiting instead of four.
    files, commits, first_time, links, renderer, lang, templates = await asyncio.gather(
        pull_files(),
        commit_messages(),
        is_first_time(api, repo, login, number),
        community_links(api, repo, services.get("repo_cache")),
        overrides.renderer_for(api, repo),
        item_language(raw, cfg.languages, cfg.language),
        issue_templates(
            api, repo, services.get("repo_cache"), wanted=not is_pull and cfg.request_info.enabled
        ),
    )
    inp = TriageInput(
        repo=repo,
        number=raw["number"],
        is_pull=is_pull,
        title=raw.get("title") or "",
        body=raw.get("body") or "",
        author=login,
        author_class=who,
        first_time=first_time,
        lang=lang,
        config=cfg,
        files=files,
        commit_messages=commits,
        links=links,
        no_comments=event.action == "opened" and raw.get("comments") == 0,
        templates=templates,
        opened_at=_instant(raw.get("created_at")) or ctx.now(),
        draft=bool(raw.get("draft")),
    )
    await ctx.apply(plan(inp, renderer))
    await report_override_failures(ctx, repo, renderer, resolved)
