"""Slash commands in comments: /triage /label /assign /unassign /ready /waiting-on /snooze /help
/affiliation /away.

Pure part. `parse_commands` finds commands at the start of a line, skipping code and quotes
(people paste commands when explaining them) and, on an edited comment, the commands that were
already there (so an edit never runs a command twice). `plan_command` turns one command into
intended actions, or raises `CommandError` with one short reason. `plan_comment` does both for
a whole comment, gathering its answers in one `Reply`; the I/O step raises that reply when it
refuses something, and the dispatcher's boundary renders it (`command_error`, in the item's
language) as one comment.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import shlex
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from bot.dispatch.context import CommandError, Context, Event, UserError
from bot.effects.actions import (
    Action,
    AddLabels,
    EnsureLabel,
    RecordState,
    RemoveLabel,
    SetAssignees,
    UpsertComment,
    marker,
)
from bot.effects.labels import LABEL_STYLE
from bot.messages.templating import T
from bot.record.markdown_scan import prose_lines
from bot.record.people import is_bot_account
from bot.sla.availability import AWAY_KIND
from bot.storage.models import ActionLog, TimelineKind
from handlers.config_watch import report_override_failures

if TYPE_CHECKING:
    from bot.config.schema import VeilleurConfig
    from bot.messages.templating import Renderer

USAGE = {
    "triage": "/triage accepted",
    "label": "/label +name -name",
    "assign": "/assign @user",
    "unassign": "/unassign @user",
    "ready": "/ready",
    "waiting-on": "/waiting-on author",
    "snooze": "/snooze 5d",
    "help": "/help",
    "affiliation": "/affiliation independent",
    "away": "/away until 2026-07-31",
}
MAX_COMMANDS = 10  # per comment; more is a paste accident, not intent
MAX_SNOOZE_DAYS = 90
MAX_AWAY_DAYS = 366
MAX_LABELS = 20
MAX_ASSIGNEES = 10  # GitHub's limit per issue
PERMISSION_RANK = {"read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")


@dataclass(frozen=True)
class Command:
    name: str  # lower-case, without the slash
    args: tuple[str, ...]
    line: str  # as written, for replies

    @property
    def known(self) -> bool:
        return self.name in USAGE


@dataclass(frozen=True)
class Reply(Action):
    """Answer in the thread with a template; `render_replies` turns it into an UpsertComment.

    `plan_comment` gathers every answer to one comment into one Reply: `more` holds the other
    (template, data) parts, and `once` (set when it refuses something) is the key that limits
    refusals to one per person, item and hour."""

    repo: str
    number: int
    template: str
    key: str  # stable per comment, so a redelivery or an edit edits instead of reposting
    data: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    more: tuple[tuple[str, dict[str, Any]], ...] = field(default=(), hash=False, compare=True)
    once: str | None = None

    @property
    def marker(self) -> str:
        return marker("command-reply", self.key)

    def refusal(self) -> UserError | None:
        """The reply as the error the dispatcher answers, when it refuses something (`once`
        is set only then): the refusals and the other answers of the comment, in one comment."""
        if self.once is None:
            return None
        parts = ((self.template, self.data), *self.more)
        refused = [d["command"] for name, d in parts if name == T.COMMAND_ERROR]
        return UserError(
            f"refused {', '.join(refused)}",
            repo=self.repo,
            number=self.number,
            parts=parts,
            marker=self.marker,
            once=self.once,
        )


@dataclass(frozen=True)
class CommandContext:
    repo: str
    number: int
    is_pull: bool
    author_login: str  # of the issue or pull request
    commenter_login: str
    commenter_permission: str | None  # admin | maintain | write | triage | read | None
    config: VeilleurConfig
    now: datetime
    labels: tuple[str, ...] = ()  # current labels of the item
    assignees: tuple[str, ...] = ()
    commenter_class: str | None = None  # recorded with state changes, if known
    comment_id: int | None = None
    refused_recently: bool = False  # this person was refused on this item within the hour

    @property
    def may_triage(self) -> bool:
        return PERMISSION_RANK.get(self.commenter_permission or "", 0) >= PERMISSION_RANK["triage"]


# -- parsing ------------------------------------------------------------------------------------

# Linear: anchored, and the spaces before the arguments cannot be matched two ways.
_COMMAND = re.compile(r"^ {0,3}/([A-Za-z][A-Za-z-]*)(?:[ \t]+(.*))?$")
_MAX_NAME = 20  # longer `/words` are paths or noise, not a mistyped command


def _split_args(rest: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(rest))
    except ValueError:  # an unbalanced quote: keep the words as they are
        return tuple(rest.split())


def _commands(body: str | None) -> list[Command]:
    found: list[Command] = []
    for line in prose_lines(body or ""):
        match = _COMMAND.match(line)
        if not match or len(match.group(1)) > _MAX_NAME:
            continue
        name = match.group(1).lower()
        if name not in USAGE and not difflib.get_close_matches(name, USAGE, n=1, cutoff=0.8):
            continue  # `/me`, `/cc`, a path...: not meant for us
        found.append(Command(name, _split_args(match.group(2) or ""), line.strip()))
    return found


def parse_commands(body: str, previous_body: str | None = None) -> list[Command]:
    """Commands in a comment; on an edit, only those not already in `previous_body`."""
    seen = Counter((c.name, c.args) for c in _commands(previous_body))
    new: list[Command] = []
    for cmd in _commands(body):
        if seen[(cmd.name, cmd.args)] > 0:
            seen[(cmd.name, cmd.args)] -= 1
            continue
        new.append(cmd)
    return new[:MAX_COMMANDS]


# -- planning -----------------------------------------------------------------------------------


def _invalid(cmd: Command, message: str) -> CommandError:
    return CommandError("invalid", message, command=cmd.line, usage=USAGE.get(cmd.name))


def _require_triage(cmd: Command, ctx: CommandContext) -> None:
    if PERMISSION_RANK.get(ctx.commenter_permission or "", 0) < PERMISSION_RANK["triage"]:
        raise CommandError("unauthorised", "it needs triage permission or higher", command=cmd.line)


def _find(name: str, names: Sequence[str]) -> str | None:
    """The item's label or assignee matching `name` (GitHub compares them case-insensitively)."""
    return next((n for n in names if n.lower() == name.lower()), None)


def _add_label(ctx: CommandContext, label: str, style: str) -> list[Action]:
    if _find(label, ctx.labels) is not None:
        return []
    return [
        EnsureLabel(ctx.repo, label, *LABEL_STYLE[style]),
        AddLabels(ctx.repo, ctx.number, (label,)),
    ]


def _remove_label(ctx: CommandContext, label: str) -> list[Action]:
    present = _find(label, ctx.labels)
    return [RemoveLabel(ctx.repo, ctx.number, present)] if present is not None else []


def _state(ctx: CommandContext, cmd: Command, kind: str, **data: Any) -> RecordState:
    data.update(by=ctx.commenter_login, command=cmd.line)
    if ctx.commenter_class:
        data["by_class"] = ctx.commenter_class
    return RecordState(kind=kind, repo=ctx.repo, number=ctx.number, data=data)


def _turn(ctx: CommandContext, cmd: Command, who: str) -> list[Action]:
    """Move the ball: swap the awaiting-* labels and record whose turn it is for the SLA."""
    names = ctx.config.labels
    if who == "author":
        moves = _add_label(ctx, names.awaiting_author, "awaiting_author")
        moves += _remove_label(ctx, names.awaiting_maintainer)
    else:
        moves = _add_label(ctx, names.awaiting_maintainer, "awaiting_maintainer")
        moves += _remove_label(ctx, names.awaiting_author)
    return [*moves, _state(ctx, cmd, TimelineKind.WAITING_ON, who=who)]


def _help(cmd: Command, ctx: CommandContext) -> list[Action]:
    return [Reply(ctx.repo, ctx.number, T.COMMAND_HELP, _reply_key(ctx, cmd))]


def _triage(cmd: Command, ctx: CommandContext) -> list[Action]:
    _require_triage(cmd, ctx)
    if [a.lower() for a in cmd.args] != ["accepted"]:
        raise _invalid(cmd, 'the only triage state is "accepted"')
    return _remove_label(ctx, ctx.config.labels.needs_triage)


def _label(cmd: Command, ctx: CommandContext) -> list[Action]:
    _require_triage(cmd, ctx)
    if not cmd.args:
        raise _invalid(cmd, "name at least one label")
    if len(cmd.args) > MAX_LABELS:
        raise _invalid(cmd, f"at most {MAX_LABELS} labels at once")
    add: dict[str, str] = {}
    remove: dict[str, str] = {}
    for arg in cmd.args:
        sign, name = (arg[0], arg[1:].strip()) if arg[0] in "+-" else ("+", arg.strip())
        if not 0 < len(name) <= 50 or "," in name:
            raise _invalid(cmd, f"{arg!r} is not a label name (1 to 50 characters, no comma)")
        (add if sign == "+" else remove)[name.lower()] = name
    if both := sorted(set(add) & set(remove)):
        raise _invalid(cmd, f"cannot both add and remove {add[both[0]]!r}")
    new = tuple(n for n in add.values() if _find(n, ctx.labels) is None)
    actions: list[Action] = [AddLabels(ctx.repo, ctx.number, new)] if new else []
    for name in remove.values():
        actions += _remove_label(ctx, name)
    return actions


def _people(cmd: Command, ctx: CommandContext) -> list[str]:
    logins = [a.lstrip("@") for a in cmd.args] or [ctx.commenter_login]
    for login in logins:
        if not _LOGIN.match(login):
            raise _invalid(cmd, f"{login!r} is not a GitHub user")
    if len(logins) > MAX_ASSIGNEES:
        raise _invalid(cmd, f"at most {MAX_ASSIGNEES} people at once")
    return list(dict.fromkeys(logins))


def _assign(cmd: Command, ctx: CommandContext) -> list[Action]:
    _require_triage(cmd, ctx)
    add = tuple(p for p in _people(cmd, ctx) if _find(p, ctx.assignees) is None)
    return [SetAssignees(ctx.repo, ctx.number, add=add)] if add else []


def _unassign(cmd: Command, ctx: CommandContext) -> list[Action]:
    _require_triage(cmd, ctx)
    found = (_find(p, ctx.assignees) for p in _people(cmd, ctx))
    remove = tuple(p for p in found if p is not None)
    return [SetAssignees(ctx.repo, ctx.number, remove=remove)] if remove else []


def _ready(cmd: Command, ctx: CommandContext) -> list[Action]:
    if ctx.commenter_login.lower() != ctx.author_login.lower():
        if PERMISSION_RANK.get(ctx.commenter_permission or "", 0) < PERMISSION_RANK["triage"]:
            raise CommandError(
                "not_author", "only the author or a maintainer can use it", command=cmd.line
            )
    if cmd.args:
        raise _invalid(cmd, "it takes no arguments")
    return _turn(ctx, cmd, "maintainer")


def _waiting_on(cmd: Command, ctx: CommandContext) -> list[Action]:
    _require_triage(cmd, ctx)
    who = {"author": "author", "maintainer": "maintainer", "maintainers": "maintainer"}.get(
        cmd.args[0].lower() if len(cmd.args) == 1 else ""
    )
    if who is None:
        raise _invalid(cmd, 'say "author" or "maintainer"')
    return _turn(ctx, cmd, who)


def _snooze(cmd: Command, ctx: CommandContext) -> list[Action]:
    _require_triage(cmd, ctx)
    match = re.fullmatch(r"(\d{1,4})\s*d?", cmd.args[0].lower()) if len(cmd.args) == 1 else None
    days = int(match.group(1)) if match else 0
    if not 1 <= days <= MAX_SNOOZE_DAYS:
        raise _invalid(cmd, f"snooze for 1 to {MAX_SNOOZE_DAYS} days, like 5d")
    until = ctx.now + timedelta(days=days)
    state = _state(ctx, cmd, TimelineKind.SNOOZED, until=until.isoformat(), days=days)
    return [*_remove_label(ctx, ctx.config.labels.overdue), state]


def _affiliation(cmd: Command, ctx: CommandContext) -> list[Action]:
    """Anyone, for themselves only: their contributions from now on are credited to no
    organisation (bot/digest reads it; past weeks stay as published)."""
    if [a.lower() for a in cmd.args] != ["independent"]:
        raise _invalid(cmd, 'say "independent"; it applies to yourself')
    return [_state(ctx, cmd, TimelineKind.AFFILIATION, organisation="independent")]


def _away(cmd: Command, ctx: CommandContext) -> list[Action]:
    """Anyone, for themselves only: away until a day (included), or `/away off`. Reminders
    then go to the next responsible person (bot/sla/availability.py reads the recorded entry)."""
    args = [a.lower() for a in cmd.args]
    if args in (["off"], ["back"]):
        until: date | None = None
    else:
        text = (
            args[1] if len(args) == 2 and args[0] == "until" else args[0] if len(args) == 1 else ""
        )
        try:
            until = date.fromisoformat(text) if len(text) == 10 else None
        except ValueError:
            until = None
        today = ctx.now.date()
        if until is None or not today <= until <= today + timedelta(days=MAX_AWAY_DAYS):
            raise _invalid(
                cmd, f'give a day from today to {MAX_AWAY_DAYS} days ahead, like "/away until '
                f'{(today + timedelta(days=14)).isoformat()}", or "/away off"',
            )  # fmt: skip
    state = _state(ctx, cmd, AWAY_KIND, until=until.isoformat() if until else None)
    return [
        state,
        Reply(ctx.repo, ctx.number, T.AWAY_REPLY, _reply_key(ctx, cmd), {"until": until}),
    ]


_PLANS: dict[str, Callable[[Command, CommandContext], list[Action]]] = {
    "help": _help,
    "triage": _triage,
    "label": _label,
    "assign": _assign,
    "unassign": _unassign,
    "ready": _ready,
    "waiting-on": _waiting_on,
    "snooze": _snooze,
    "affiliation": _affiliation,
    "away": _away,
}


def plan_command(cmd: Command, ctx: CommandContext) -> list[Action]:
    """Pure: the actions one command asks for, or `CommandError` saying why it cannot run."""
    if not ctx.config.commands.enabled:
        raise CommandError("disabled", "commands are turned off here", command=cmd.line)
    plan = _PLANS.get(cmd.name)
    if plan is None:
        close = difflib.get_close_matches(cmd.name, USAGE, n=1, cutoff=0.8)
        hint = f"; did you mean /{close[0]}?" if close else ""
        raise CommandError("unknown", f"unknown command{hint}", command=cmd.line)
    return plan(cmd, ctx)


def _reply_key(ctx: CommandContext, cmd: Command | None = None) -> str:
    """One reply per comment (`cmd` only tells replies to a comment without id apart)."""
    digest = (
        hashlib.sha256(cmd.line.encode()).hexdigest()[:12] if cmd and not ctx.comment_id else ""
    )
    return f"{ctx.repo}#{ctx.number}:{ctx.comment_id or 0}:{digest}"


REFUSAL_WINDOW = timedelta(hours=1)


def refusal_prefix(repo: str, number: int, login: str) -> str:
    """Start of the `action_log` keys of refusals answered to `login` on one item."""
    return f"command-refusal:{repo.lower()}#{number}:{login.lower()}:"


def plan_comment(body: str, previous_body: str | None, ctx: CommandContext) -> list[Action]:
    """Pure: every new command of a comment planned, and at most one reply for the whole comment.

    Refused or invalid commands are gathered in that reply, unless this person was already
    refused on this item within the hour; an unknown command from someone without triage
    permission gets no reply at all (`/foo` may be meant for another bot, or be noise). When
    commands are turned off, nothing happens (no reply either: nobody asked for them).
    """
    if not ctx.config.commands.enabled:
        return []
    actions: list[Action] = []
    parts: list[tuple[str, dict[str, Any]]] = []
    refused = False
    commands = parse_commands(body, previous_body)
    for cmd in commands:
        try:
            planned = plan_command(cmd, ctx)
        except CommandError as err:
            if err.reason == "unknown" and not ctx.may_triage:
                continue
            refused = True
            if not ctx.refused_recently:
                parts.append((T.COMMAND_ERROR, err.template_data()))
            continue
        for action in planned:
            if isinstance(action, Reply):
                parts.append((action.template, action.data))
            else:
                actions.append(action)
    if parts:
        first, *more = parts
        once = None
        if refused and not ctx.refused_recently:
            once = (
                f"{refusal_prefix(ctx.repo, ctx.number, ctx.commenter_login)}{ctx.comment_id or 0}"
            )
        key = _reply_key(ctx, commands[0])
        actions.append(Reply(ctx.repo, ctx.number, first[0], key, first[1], tuple(more), once))
    return actions


def render_replies(actions: Sequence[Action], renderer: Renderer, lang: str) -> list[Action]:
    """Replace each `Reply` with the comment it renders to, in the contributor's language."""
    out: list[Action] = []
    for action in actions:
        if isinstance(action, Reply):
            parts = ((action.template, action.data), *action.more)
            text = "\n".join(renderer.render(name, lang, **data).tagged for name, data in parts)
            out.append(
                UpsertComment(action.repo, action.number, action.marker, text, once=action.once)
            )
        else:
            out.append(action)
    return out


# -- I/O step ------------------------------------------------------------------------------------


def _refused_recently(ctx: Context, repo: str, number: int, login: str, comment: Any) -> bool:
    """Whether `login` got a refusal on this item, for another comment, within the hour."""
    prefix = refusal_prefix(repo, number, login)
    own = f"{prefix}{comment or 0}"
    since = ctx.now() - REFUSAL_WINDOW
    with Session(ctx.engine) as s:
        rows = s.exec(
            select(ActionLog.key, ActionLog.done_at).where(col(ActionLog.key).startswith(prefix))
        )
        return any(key != own and _aware(done) > since for key, done in rows)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


NAME = "commands"
EVENTS = {("issue_comment", "created"), ("issue_comment", "edited")}


async def handle(event: Event, ctx: Context) -> None:
    """Run the commands of a new or edited comment (on an edit, only the new ones)."""
    from bot.messages.language import item_language

    repo, api, item = event.repo, ctx.github, event.item
    user = event.comment_author
    if repo is None or api is None or item is None or is_bot_account(user):
        return
    previous = event.previous_body if event.action == "edited" else None
    body = event.comment_body
    if not parse_commands(body, previous):
        return
    resolved = await ctx.config()
    if resolved is None:
        return
    cfg = resolved.config
    if not cfg.commands.enabled:
        return
    login = user.get("login") or ""
    comment_id = event.comment.get("id")
    if login.lower() in {b.lower() for b in cfg.bots.logins}:
        return  # a machine user (`bots.logins`) is never acted on
    who = await ctx.services["classifier"].classify(api, repo, user, event)
    cctx = CommandContext(
        repo=repo,
        number=item["number"],
        is_pull=event.is_pull,
        author_login=event.item_author_login,
        commenter_login=login,
        commenter_permission=await api.collaborator_permission(repo, login),
        config=cfg,
        now=ctx.now(),
        labels=event.item_labels,
        assignees=event.item_assignees,
        commenter_class=who.author_class,
        comment_id=comment_id,
        refused_recently=_refused_recently(ctx, repo, item["number"], login, comment_id),
    )
    # The conversation's language (the item's title and body), not the command line's.
    lang = await item_language(item, cfg.languages, cfg.language)
    renderer = await ctx.services["overrides"].renderer_for(api, repo)
    planned = plan_comment(body, previous, cctx)
    # A reply that refuses something is raised: the dispatcher answers it (bot/dispatch).
    refusal = next((r for a in planned if isinstance(a, Reply) and (r := a.refusal())), None)
    kept = [a for a in planned if not (isinstance(a, Reply) and a.once)]
    await ctx.apply(render_replies(kept, renderer, lang))
    await report_override_failures(ctx, repo, renderer, resolved)
    if refusal is not None:
        raise refusal
