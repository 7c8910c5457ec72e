"""GraphQL types of issues, pull requests and their timelines (comments, reviews, commits and
the events the forge records: labels, assignees, close, reopen, merge, draft, review requests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.sim.graphql_base import (
    Ctx,
    FieldDef,
    ItemRef,
    Typed,
    Unresolved,
    actor,
    attr,
    conn_field,
    connection_type,
    define,
    iso_of,
    paginate,
    plain,
)
from bot.sim.models import Commit, Label, User

ISSUE_TIMELINE = (
    "IssueComment", "LabeledEvent", "UnlabeledEvent", "AssignedEvent", "UnassignedEvent",
    "ClosedEvent", "ReopenedEvent",
)  # fmt: skip
PULL_TIMELINE = ISSUE_TIMELINE + (
    "MergedEvent", "ReadyForReviewEvent", "ConvertToDraftEvent", "ReviewRequestedEvent",
    "PullRequestReview", "PullRequestCommit", "HeadRefForcePushedEvent",
)  # fmt: skip


@dataclass(frozen=True)
class Rec:
    """A timeline record (comment, review, commit or event) with its item."""

    ref: ItemRef
    record: Any


def _author(ctx: Ctx, login: str | None) -> Typed | None:
    return actor(ctx, login)


def _association(ctx: Ctx, v: Any, login: str) -> str:
    repo = v.repo if isinstance(v, ItemRef) else v.ref.repo
    return str(ctx.forge.author_association(repo, login))


def _html(ctx: Ctx, ref: ItemRef) -> str:
    kind = "pull" if ref.issue.pull else "issues"
    return f"{ctx.forge.html_url}/{ref.repo.full_name}/{kind}/{ref.issue.number}"


def _state(ref: ItemRef) -> str:
    pull = ref.issue.pull
    if pull is not None and pull.merged:
        return "MERGED"
    return ref.issue.state.upper()


def _type_name(enum_value: str) -> str:
    """`LABELED_EVENT` -> `LabeledEvent`."""
    return "".join(part.capitalize() for part in str(enum_value).split("_"))


def _timeline(ctx: Ctx, ref: ItemRef, args: dict[str, Any]) -> Any:
    allowed = PULL_TIMELINE if ref.issue.pull else ISSUE_TIMELINE
    wanted = set(allowed)
    if args.get("itemTypes") is not None:
        wanted = {_type_name(v) for v in args["itemTypes"]}
        if not wanted <= set(allowed):
            bad = sorted(wanted - set(allowed))
            kind = "PullRequest" if ref.issue.pull else "Issue"
            message = f"Argument 'itemTypes' on Field 'timelineItems' has an invalid value: {bad}"
            raise Unresolved("INVALID_ARGUMENTS", f"{message} (not {kind} timeline items)")
    since = args.get("since")
    items = [
        Typed(t.kind, Rec(ref, t.record))
        for t in ctx.forge.timeline_of(ref.repo, ref.issue)
        if t.kind in wanted and (not since or (iso_of(t.at) or "") >= str(since))
    ]
    return paginate(items, args)


def _labels(ctx: Ctx, ref: ItemRef, args: dict[str, Any]) -> Any:
    found = [ref.repo.labels[n.lower()] for n in ref.issue.labels if n.lower() in ref.repo.labels]
    return paginate(found, args)


def _assignees(ctx: Ctx, ref: ItemRef, args: dict[str, Any]) -> Any:
    users = [
        ctx.forge.users[a.lower()] for a in ref.issue.assignees if a.lower() in ctx.forge.users
    ]
    return paginate(users, args)


def _item_fields(timeline_conn: str) -> dict[str, FieldDef]:
    return {
        "id": plain(lambda r: r.issue.node_id, "ID"),
        "databaseId": plain(lambda r: r.issue.id, "Int"),
        "number": plain(lambda r: r.issue.number, "Int"),
        "title": plain(lambda r: r.issue.title),
        "body": plain(lambda r: r.issue.body or ""),
        "url": FieldDef("URI", lambda c, r, _a: _html(c, r)),
        "createdAt": plain(lambda r: iso_of(r.issue.created_at), "DateTime"),
        "updatedAt": plain(lambda r: iso_of(r.issue.updated_at), "DateTime"),
        "closedAt": plain(lambda r: iso_of(r.issue.closed_at), "DateTime"),
        "closed": plain(lambda r: r.issue.state == "closed", "Boolean"),
        "state": plain(_state),
        "author": FieldDef("Actor", lambda c, r, _a: _author(c, r.issue.user)),
        "authorAssociation": FieldDef("String", lambda c, r, _a: _association(c, r, r.issue.user)),
        "labels": conn_field("LabelConnection", _labels, ("orderBy",)),
        "assignees": conn_field("UserConnection", _assignees),
        "timelineItems": conn_field(timeline_conn, _timeline, ("itemTypes", "since", "skip")),
    }


def _pull(fn: Any, type_name: str = "String") -> FieldDef:
    return FieldDef(type_name, lambda _c, r, _a: fn(r.issue.pull))


# -- timeline records ------------------------------------------------------------------------
def _rec(fn: Any, type_name: str = "String") -> FieldDef:
    return FieldDef(type_name, lambda _c, v, _a: fn(v.record))


def _login_of(user: Any) -> str:
    return user.login if isinstance(user, User) else str(user)


def _git_user(ctx: Ctx, commit: Any) -> User | None:
    login = commit.author if isinstance(commit, Commit) else None
    return ctx.forge.users.get(login.lower()) if login else None


def _commit_field(fn: Any, type_name: str = "String") -> FieldDef:
    return FieldDef(type_name, lambda _c, v, _a: fn(v) if isinstance(v, Commit) else None)


def _event_fields(**extra: FieldDef) -> dict[str, FieldDef]:
    return {
        "id": _rec(lambda e: e.node_id, "ID"),
        "actor": FieldDef("Actor", lambda c, v, _a: _author(c, v.record.actor)),
        "createdAt": _rec(lambda e: iso_of(e.created_at), "DateTime"),
    } | extra


def _label_of(_c: Ctx, v: Rec, _a: dict[str, Any]) -> Label:
    name = v.record.subject or ""
    return v.ref.repo.labels.get(name.lower()) or Label(0, "", name)


def _user_subject(ctx: Ctx, v: Rec, _a: dict[str, Any]) -> Typed | None:
    return actor(ctx, v.record.subject)


def _reviewer(ctx: Ctx, v: Rec, _a: dict[str, Any]) -> Typed | None:
    subject = v.record.subject or ""
    if subject.startswith("@"):
        org = ctx.forge.org_of(v.ref.repo)
        team = org.teams.get(subject[1:]) if org else None
        return Typed("Team", (org, team)) if team else None
    return actor(ctx, subject)


def define_item_types() -> None:
    """Register the issue, pull request and timeline types (called by `build_schema`)."""
    for name in ("LabeledEvent", "UnlabeledEvent"):
        define(name, _event_fields(label=FieldDef("Label", _label_of)))
    for name in ("AssignedEvent", "UnassignedEvent"):
        define(name, _event_fields(assignee=FieldDef("Assignee", _user_subject)))
    for name in ("ReopenedEvent", "ReadyForReviewEvent", "ConvertToDraftEvent"):
        define(name, _event_fields())
    define(
        "Issue",
        _item_fields(connection_type("IssueTimelineItems", "IssueTimelineItems"))
        | {"stateReason": plain(lambda r: (r.issue.state_reason or "").upper() or None)},
    )
    define(
        "PullRequest",
        _item_fields(connection_type("PullRequestTimelineItems", "PullRequestTimelineItems"))
        | {
            "isDraft": _pull(lambda p: p.draft, "Boolean"),
            "merged": _pull(lambda p: p.merged, "Boolean"),
            "mergedAt": _pull(lambda p: iso_of(p.merged_at), "DateTime"),
            "mergedBy": FieldDef("Actor", lambda c, r, _a: _author(c, r.issue.pull.merged_by)),
            "headRefOid": _pull(lambda p: p.head_sha, "GitObjectID"),
            "headRefName": _pull(lambda p: p.head_ref),
            "baseRefName": _pull(lambda p: p.base_ref),
        },
    )
    define("IssueTimelineItems", {}, ISSUE_TIMELINE)
    define("PullRequestTimelineItems", {}, PULL_TIMELINE)
    define(
        "Label",
        {
            "id": attr("node_id", "ID"),
            "name": attr("name"),
            "color": attr("color"),
            "description": attr("description"),
        },
    )
    connection_type("Label", "Label")
    define(
        "IssueComment",
        {
            "id": _rec(lambda c: c.node_id, "ID"),
            "databaseId": _rec(lambda c: c.id, "Int"),
            "author": FieldDef("Actor", lambda c, v, _a: _author(c, v.record.user)),
            "authorAssociation": FieldDef(
                "String", lambda c, v, _a: _association(c, v, v.record.user)
            ),
            "body": _rec(lambda c: c.body),
            "createdAt": _rec(lambda c: iso_of(c.created_at), "DateTime"),
            "updatedAt": _rec(lambda c: iso_of(c.updated_at), "DateTime"),
            "lastEditedAt": _rec(
                lambda c: iso_of(c.updated_at) if c.updated_at != c.created_at else None, "DateTime"
            ),
        },
    )
    define(
        "PullRequestReview",
        {
            "id": _rec(lambda r: r.node_id, "ID"),
            "databaseId": _rec(lambda r: r.id, "Int"),
            "author": FieldDef("Actor", lambda c, v, _a: _author(c, v.record.user)),
            "authorAssociation": FieldDef(
                "String", lambda c, v, _a: _association(c, v, v.record.user)
            ),
            "body": _rec(lambda r: r.body),
            "state": _rec(lambda r: r.state),
            "submittedAt": _rec(lambda r: iso_of(r.submitted_at), "DateTime"),
            "createdAt": _rec(lambda r: iso_of(r.submitted_at), "DateTime"),
            "commit": _rec(lambda r: r.commit_id, "Commit"),
        },
    )
    define(
        "Commit",
        {
            "oid": plain(lambda v: v.sha if isinstance(v, Commit) else str(v), "GitObjectID"),
            "message": _commit_field(lambda c: c.message),
            "committedDate": _commit_field(lambda c: iso_of(c.timestamp), "DateTime"),
            "authoredDate": _commit_field(lambda c: iso_of(c.timestamp), "DateTime"),
            "author": FieldDef("GitActor", lambda _c, v, _a: v if isinstance(v, Commit) else None),
        },
    )
    define(
        "GitActor",
        {
            "name": plain(lambda c: c.author),
            "date": plain(lambda c: iso_of(c.timestamp), "DateTime"),
            "user": FieldDef("User", lambda c, v, _a: _git_user(c, v)),
        },
    )
    define(
        "PullRequestCommit",
        {
            "id": _rec(lambda c: f"PRC_{c.sha[:20]}", "ID"),
            "commit": _rec(lambda c: c, "Commit"),
        },
    )
    define(
        "ClosedEvent",
        _event_fields(stateReason=_rec(lambda e: (e.subject or "").upper() or None)),
    )
    define(
        "MergedEvent",
        _event_fields(
            commit=_rec(lambda e: e.subject, "Commit"),
            mergeRefName=FieldDef("String", lambda _c, v, _a: v.ref.issue.pull.base_ref),
        ),
    )
    define(
        "ReviewRequestedEvent",
        _event_fields(requestedReviewer=FieldDef("RequestedReviewer", _reviewer)),
    )
    define(
        "HeadRefForcePushedEvent",
        _event_fields(
            afterCommit=_rec(lambda e: e.subject, "Commit"),
            beforeCommit=_rec(lambda e: None, "Commit"),
        ),
    )
    define("Assignee", {}, ("User", "Bot", "Mannequin", "Organization"))
    define("RequestedReviewer", {}, ("User", "Bot", "Mannequin", "Team"))
