"""Every message the bot writes, rendered from `templates/<lang>/<name>.md.j2`.

Contributors control titles, bodies and logins, so templates run in Jinja's sandbox and
untrusted text only ever enters as data: every `{{ value }}` is escaped for Markdown and HTML,
and `@mentions` inside it are broken, so nobody can ping a team through the bot. Mentions the
bot means (maintainers to remind, the OSPO team) go through the `mention` filter; values built
by trusted code can be passed as `SafeMarkdown`.

An organisation may override any template from its `.github` repository (the caller fetches
the files); lookup order is override[lang], packaged[lang], override[en], packaged[en]. A broken
override is logged and skipped rather than silencing the bot.

Template data (what callers pass; items are mappings or objects with these attributes):
- welcome_issue / welcome_pull: author, repo, first_time, response_days, partner (or None);
  optional contributing_url, code_of_conduct_url, support_url
- request_info_issue: author, missing_sections (list), too_short, min_body_chars
- pr_checklist: author, checks (list of {key: tests|changelog|dco|linked_issue, ok})
- command_help: (nothing)
- command_error: command, reason (unauthorised|not_author|invalid|unknown|disabled), message,
  usage (or None)
- config_error_issue: repo, errors (ConfigError list), last_valid (bool), config_file (the
  repository's own file where its forge keeps it: `.github/veilleur.yml`, GitLab's
  `.gitlab/veilleur.yml`; used unless `fixed`); optional fixed; sets `title`
- reminder: people, author, business_days, due_days, reminder_number, max_reminders,
  kind (first_response|follow_up); optional listed (people over their daily mention cap,
  named without `@`)
- waiting_list: scope, generated_at, items (list of {repo, number, title, author, author_class,
  business_days, responsible (list), overdue}); sets `title`
- escalation_issue / escalation_email: item ({repo, number, title, url, author, author_class}),
  business_days, reminders_sent, responsible (list: the item's responsible people),
  ospo_team (or None: the OSPO is who is told), ospo_emails (list); set `title`
- whose_turn: waiting_on (author|maintainer), business_days, due_in_days (or None), responsible
- stale_nudge: author, close_after_days; stale_close: author
- daily_reminder: person, day, items (as waiting_list); daily_note: author, people
- away_reply: until (a date, or None when `/away off`), shown with `long_date(until)`
- welcome_*: also answer_by (an instant on the repository's clock, or None), shown with
  `long_date(answer_by)`: "Tuesday, 15 July 2026, 14:00"
- digest_email: scope, period_start, period_end, totals ({new, answered, overdue, waiting}),
  items (as waiting_list), members (an OSPO's members covered), members_left_out (how many
  listed owners are not, for want of consent); sets `title`

Every template also gets `bot.messages.l10n.template_helpers` for its language: `plural(n, one=...,
other=..., many=...)` (CLDR categories, `{n}` in each form), `number`, `percent`, `day`,
`author_class` and `organisation` (words of the language, never raw values).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    DictLoader,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
)
from jinja2.sandbox import SandboxedEnvironment, safe_range

from bot.forge.links import item_ref
from bot.messages.l10n import template_helpers
from bot.record.text import break_autolinks, without_invisible

log = logging.getLogger(__name__)

LANGUAGES = ("en", "fr", "nl", "de")
FALLBACK_LANGUAGE = "en"
SUFFIX = ".md.j2"


class T:
    """Template names; callers and tests use these, never literal strings."""

    WELCOME_ISSUE = "welcome_issue"
    WELCOME_PULL = "welcome_pull"
    REQUEST_INFO_ISSUE = "request_info_issue"
    PR_CHECKLIST = "pr_checklist"
    COMMAND_HELP = "command_help"
    COMMAND_ERROR = "command_error"
    CONFIG_ERROR_ISSUE = "config_error_issue"
    REMINDER = "reminder"
    WAITING_LIST = "waiting_list"
    ESCALATION_ISSUE = "escalation_issue"
    ESCALATION_EMAIL = "escalation_email"
    WHOSE_TURN = "whose_turn"
    STALE_NUDGE = "stale_nudge"
    STALE_CLOSE = "stale_close"
    DIGEST_EMAIL = "digest_email"
    DAILY_REMINDER = "daily_reminder"
    DAILY_NOTE = "daily_note"
    AWAY_REPLY = "away_reply"

    ALL: tuple[str, ...] = (
        WELCOME_ISSUE, WELCOME_PULL, REQUEST_INFO_ISSUE, PR_CHECKLIST, COMMAND_HELP,
        COMMAND_ERROR, CONFIG_ERROR_ISSUE, REMINDER, WAITING_LIST, ESCALATION_ISSUE,
        ESCALATION_EMAIL, WHOSE_TURN, STALE_NUDGE, STALE_CLOSE, DIGEST_EMAIL,
        DAILY_REMINDER, DAILY_NOTE, AWAY_REPLY,
    )  # fmt: skip


class SafeMarkdown(str):
    """Markdown that trusted code vouches for; printed as is. Any str operation drops the mark."""

    __slots__ = ()


# -- escaping -----------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_NEWLINES = re.compile(r"[\r\n\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNESCAPE = re.compile(r"\\([\\`*_\[\]|~#])")
ZWJ = "\u200d"

_HANDLE = re.compile(r"^@?([A-Za-z0-9][A-Za-z0-9-]{0,38}(?:/[A-Za-z0-9][A-Za-z0-9._-]*)?)$")
_REPO = re.compile(
    r"^(?:[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}"  # GitHub: owner/name
    r"|[A-Za-z0-9.-]{1,253}(?::\d{1,5})?(?:/[A-Za-z0-9_][A-Za-z0-9._-]{0,254}){2,21})$"  # GitLab
)
_URL = re.compile(r"^https?://[^\s<>()\[\]\"'`\\]+$")


def escape_markdown(text: str) -> str:
    """Make untrusted text print literally: no formatting, HTML, table breaks, live mentions or
    links, no bidirectional controls or zero-width characters."""
    text = _CONTROL.sub("", _NEWLINES.sub(" ", without_invisible(text)))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return break_autolinks(_MENTION.sub("@" + ZWJ, text))


def plain_text(markdown: str) -> str:
    """Undo `escape_markdown`'s backslashes and entities (titles, mail); mentions and bare
    links stay broken."""
    text = _UNESCAPE.sub(r"\1", markdown)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _finalize(value: Any) -> str:
    if isinstance(value, SafeMarkdown):
        return value
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return str(value)
    return escape_markdown(str(value))


def mention(value: str | Iterable[str] | None, sep: str = ", ") -> SafeMarkdown:
    """Live `@login` / `@org/team` mentions the bot intends; anything else is escaped."""
    if value is None:
        return SafeMarkdown("")
    values = [value] if isinstance(value, str) else list(value)
    out = []
    for item in values:
        match = _HANDLE.match(str(item).strip())
        out.append("@" + match.group(1) if match else escape_markdown(str(item)))
    return SafeMarkdown(escape_markdown(sep).join(out))


def ref(repo: str, number: int) -> SafeMarkdown:
    """`owner/repo#12`, which GitHub links, or `host/group/project!7` for a GitLab merge
    request (bot/forge/links.py); escaped text if either part looks wrong."""
    if isinstance(number, int) and not isinstance(number, bool) and _REPO.match(str(repo)):
        return SafeMarkdown(item_ref(repo, number))
    return SafeMarkdown(escape_markdown(f"{repo}#{number}"))


def link(text: Any, url: str | None) -> SafeMarkdown:
    """`[text](url)` with the text escaped; only the text when `url` is not a plain http(s) URL."""
    label = _finalize(text)
    if url and _URL.match(str(url)):
        return SafeMarkdown(f"[{label}]({url})")
    return SafeMarkdown(label)


def url(value: str | None) -> SafeMarkdown:
    """A bare http(s) URL GitHub and mail clients link; escaped text when it is anything else."""
    if value and _URL.match(str(value)):
        return SafeMarkdown(value)
    return SafeMarkdown(_finalize(value))


def code(text: Any) -> SafeMarkdown:
    """An inline code span that cannot be closed early by backticks in `text`."""
    raw = _CONTROL.sub("", _NEWLINES.sub(" ", without_invisible(str(text))))
    longest = max((len(m) for m in re.findall(r"`+", raw)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if raw.startswith("`") or raw.endswith("`") or not raw.strip() else ""
    return SafeMarkdown(f"{fence}{pad}{raw}{pad}{fence}")


# -- rendering ----------------------------------------------------------------------------------

_OVERRIDE_KEY = re.compile(r"^[a-z]{2}/[a-z_]+\.md\.j2$")
MAX_OVERRIDE_CHARS = 64 * 1024  # an override's source
MAX_OUTPUT_CHARS = 65_536  # GitHub's limit on a comment or issue body
MAX_LOOP_STEPS = 10_000  # iterations of every `range` of one override render, together
_steps: ContextVar[list[int] | None] = ContextVar("template_steps", default=None)


class OverrideTooCostly(RuntimeError):
    """An override asked for more loop steps, text or arithmetic than a message can need."""


@dataclass(frozen=True)
class OverrideFailure:
    """An org template override that could not be used (the packaged template was)."""

    file: str  # like fr/welcome_issue.md.j2
    line: int | None
    message: str


def _bounded_range(*args: int) -> Iterator[int]:
    """Jinja's sandboxed `range`, counted against the render's step budget."""
    budget = _steps.get()
    for value in safe_range(*args):
        if budget is not None:
            budget[0] -= 1
            if budget[0] < 0:
                raise OverrideTooCostly(f"loops run more than {MAX_LOOP_STEPS:,} steps")
        yield value


def _template_line(exc: BaseException) -> int | None:
    """The line of the template where `exc` happened (Jinja rewrites tracebacks to point there)."""
    line = getattr(exc, "lineno", None)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line if isinstance(line, int) else None


class _Sandbox(SandboxedEnvironment):
    """The sandbox, with `*` and `**` checked: `{{ "x" * 10**9 }}` must not exhaust memory."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise OverrideTooCostly("exponent too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    if len(seq) * times > MAX_OUTPUT_CHARS:
                        raise OverrideTooCostly("repeated text too long")
        return super().call_binop(context, operator, left, right)


@dataclass(frozen=True)
class RenderResult:
    text: str  # Markdown body
    template_name: str
    lang: str  # the language actually used (after fallback)
    title: str | None = None  # plain text, from `{% set title %}` in the template
    source: str = "packaged"  # or "override"

    @property
    def tagged(self) -> str:
        """The body with a hidden note of the template and language used (for audits and tests)."""
        return f"<!-- veilleur-template:{self.template_name}/{self.lang} -->\n{self.text}"

    @property
    def plain(self) -> str:
        """The body without Markdown escapes, for plain-text mail."""
        return plain_text(self.text)


class Renderer:
    """Renders named templates in a language, with optional organisation overrides."""

    def __init__(
        self,
        templates_dir: Path | str | None = None,
        overrides: Mapping[str, str] | None = None,
        origin: str | None = None,
    ) -> None:
        if templates_dir is None:
            from bot.resources import templates_dir as packaged

            templates_dir = packaged()
        self.templates_dir = Path(templates_dir)
        self.failures: dict[str, OverrideFailure] = {}  # overrides that fell back, by file
        # The folder the overrides were read from, as the forge names it: errors name it.
        self.origin = origin
        self.overrides = {k: v for k, v in (overrides or {}).items() if _OVERRIDE_KEY.match(k)}
        for ignored in set(overrides or {}) - set(self.overrides):
            log.warning(
                "template override %r ignored: expected names like fr/reminder.md.j2", ignored
            )
        for file, source in list(self.overrides.items()):
            if len(source) > MAX_OVERRIDE_CHARS:
                del self.overrides[file]
                message = f"larger than {MAX_OVERRIDE_CHARS:,} characters"
                self.failures[file] = OverrideFailure(file, None, message)
        self.env = _Sandbox(
            loader=PrefixLoader(
                {
                    "override": DictLoader(self.overrides),
                    "packaged": FileSystemLoader(str(self.templates_dir)),
                }
            ),
            autoescape=False,  # Markdown, not HTML: `_finalize` escapes every printed value
            finalize=_finalize,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters.update(mention=mention, code=code)
        self.env.globals.update(ref=ref, link=link, mention=mention, code=code, url=url)
        self.env.globals["range"] = _bounded_range

    def with_overrides(self, overrides: Mapping[str, str], origin: str | None = None) -> Renderer:
        return Renderer(self.templates_dir, overrides, origin)

    def render(self, name: str, lang: str, **data: Any) -> RenderResult:
        langs = [lang] if lang == FALLBACK_LANGUAGE else [lang, FALLBACK_LANGUAGE]
        for candidate in langs:
            file = f"{candidate}/{name}{SUFFIX}"
            if file in self.overrides:
                # Whatever goes wrong in an org's template (syntax, `{{ 1/0 }}`, a huge loop),
                # the packaged one is used instead, and the failure is kept to be reported.
                budget = _steps.set([MAX_LOOP_STEPS])
                try:
                    return self._render(f"override/{file}", name, candidate, "override", data)
                except Exception as exc:
                    message = str(exc).strip() or type(exc).__name__
                    failure = OverrideFailure(file, _template_line(exc), message[:300])
                    self.failures[file] = failure
                    log.warning(
                        "template override %s failed (%s); using the packaged one", file, failure
                    )
                finally:
                    _steps.reset(budget)
            if (self.templates_dir / file).is_file():
                return self._render(f"packaged/{file}", name, candidate, "packaged", data)
        raise TemplateNotFound(f"{lang}/{name}{SUFFIX}")

    def _render(
        self, path: str, name: str, lang: str, source: str, data: dict[str, Any]
    ) -> RenderResult:
        template: Template = self.env.get_template(path)
        try:
            module = template.make_module(template_helpers(lang) | data)
        except Exception:
            self.env.handle_exception()  # re-raised with the template's own line numbers
        text = str(module).strip() + "\n"
        if source == "override" and len(text) > MAX_OUTPUT_CHARS:
            raise OverrideTooCostly(f"renders more than {MAX_OUTPUT_CHARS:,} characters")
        raw_title = getattr(module, "title", None)
        title = plain_text(" ".join(str(raw_title).split())) if raw_title is not None else None
        return RenderResult(text, name, lang, title, source)
