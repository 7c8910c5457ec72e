"""Intended effects on GitHub (and mail).

Handlers' pure steps return these; `bot.effects.executor` carries them out.

Every action is a frozen value with an idempotency story:
- label and assignee changes are idempotent by nature;
- comments and issues carry a hidden marker and are edited in place, never posted twice;
- one-off effects (mail, reminders) carry a `once` key recorded in the `action_log` table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace


def marker(kind: str, item: str) -> str:
    """Hidden HTML comment that lets the bot find its own comment or issue again."""
    return f"<!-- veilleur:{kind}:{item} -->"


@dataclass(frozen=True)
class Action:
    """Base class. `once` (optional) makes the action run at most once ever, keyed in action_log."""

    def describe(self) -> str:
        return repr(self)


@dataclass(frozen=True)
class EnsureLabel(Action):
    repo: str  # "owner/name"
    name: str
    color: str = "ededed"
    description: str = ""


@dataclass(frozen=True)
class AddLabels(Action):
    repo: str
    number: int
    labels: tuple[str, ...]


@dataclass(frozen=True)
class RemoveLabel(Action):
    repo: str
    number: int
    label: str


@dataclass(frozen=True)
class ChangeLabels(Action):
    """Labels added and removed on one item, in one request where the forge allows it: what
    the executor makes of a plan's adjacent `AddLabels`/`RemoveLabel` (`fold_labels`)."""

    repo: str
    number: int
    add: tuple[str, ...]
    remove: tuple[str, ...]


def fold_labels(actions: Sequence[Action]) -> list[Action]:
    """Adjacent label changes of one item as one `ChangeLabels` (a label both added and
    removed in the run keeps the plan's order: not folded). Other actions stay in place."""
    out: list[Action] = []
    run: list[AddLabels | RemoveLabel] = []

    def flush() -> None:
        add = tuple(dict.fromkeys(n for a in run if isinstance(a, AddLabels) for n in a.labels))
        remove = tuple(dict.fromkeys(a.label for a in run if isinstance(a, RemoveLabel)))
        both = {n.lower() for n in add} & {n.lower() for n in remove}
        if len(run) > 1 and not both:
            out.append(ChangeLabels(run[0].repo, run[0].number, add, remove))
        else:
            out.extend(run)
        run.clear()

    for action in actions:
        if isinstance(action, AddLabels | RemoveLabel):
            if run and (run[0].repo, run[0].number) != (action.repo, action.number):
                flush()
            run.append(action)
            continue
        flush()
        out.append(action)
    flush()
    return out


@dataclass(frozen=True)
class UpsertComment(Action):
    """Post a comment carrying `marker`, or edit the existing one that carries it."""

    repo: str
    number: int
    marker: str
    body: str
    # False: an existing marked comment is left as it is (a welcome is sent once, not refreshed).
    update_existing: bool = True
    once: str | None = None
    # Set with `once`: the text posted instead once `once` was already done (a welcome folded
    # with a request for details: the person was welcomed before, the request still goes).
    otherwise: str | None = None
    # The item had no comment when the event was sent (an issue just opened): unless a post of
    # this marker was already attempted, there is nothing to look for before posting.
    item_had_no_comments: bool = False


@dataclass(frozen=True)
class UpsertIssue(Action):
    """Open an issue carrying `marker` in its body, or update the open one that does."""

    repo: str
    marker: str
    title: str
    body: str
    labels: tuple[str, ...] = ()
    close: bool = False  # close the marked issue (e.g. config fixed) instead of upserting
    create_if_missing: bool = True  # False: only update one that exists (e.g. "nothing waits")
    once: str | None = None  # set: done at most once (keyed in action_log), like comments


@dataclass(frozen=True)
class SetIssueState(Action):
    """Close (or reopen) an item; used only for stale items waiting on their author."""

    repo: str
    number: int
    state: str  # open | closed
    state_reason: str | None = None  # e.g. not_planned
    once: str | None = None


@dataclass(frozen=True)
class SetAssignees(Action):
    repo: str
    number: int
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreateCheckRun(Action):
    repo: str
    head_sha: str
    name: str
    conclusion: str  # success | failure | neutral
    title: str
    summary: str


@dataclass(frozen=True)
class SendEmail(Action):
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    once: str | None = None


@dataclass(frozen=True)
class RecordState(Action):
    """A change to Veilleur's own records (no GitHub call), e.g. a snooze or a stage key."""

    kind: str
    repo: str
    number: int
    data: dict[str, object] = field(default_factory=dict, hash=False, compare=True)
    once: str | None = None


def without_once(action: Action) -> Action | None:
    """What is left of `action` once its `once` key is done: a folded comment's `otherwise`
    text (posted like any marked comment), else nothing."""
    if isinstance(action, UpsertComment) and action.otherwise is not None:
        return replace(action, body=action.otherwise, once=None, otherwise=None)
    return None
