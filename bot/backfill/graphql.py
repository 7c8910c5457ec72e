"""The history import's GraphQL queries, and the pure step that turns one issue or pull request
node (with its timeline) into the same item snapshot and timeline entries the webhooks record.

Natural keys match `handlers/records.py` exactly where GitHub gives the same facts:
`opened`, `comment:{databaseId}`, `review:{databaseId}`, `pushed:{sha}` (ids and shas), and
`closed:` / `merged:` / `reopened:` / `labeled:{name}:` / `unlabeled:` / `assigned:{login}:` /
`unassigned:` / `review_requested:{who}:` / `ready_for_review:` / `converted_to_draft:`
followed by the event time. The webhook takes that time from the item's `updated_at`, which
GitHub sets in the same transaction as the event's `createdAt` (the forge does exactly so); the
writer also treats an existing entry of the same kind and subject within a few seconds as
the same fact, in case they ever differ by a second.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.record.timeline import Entry, Recorded, ts
from bot.storage.models import TimelineKind

K = TimelineKind
Json = dict[str, Any]

ISSUE_TYPES = (
    "ISSUE_COMMENT LABELED_EVENT UNLABELED_EVENT ASSIGNED_EVENT UNASSIGNED_EVENT CLOSED_EVENT "
    "REOPENED_EVENT"
)
PULL_TYPES = ISSUE_TYPES + (
    " MERGED_EVENT READY_FOR_REVIEW_EVENT CONVERT_TO_DRAFT_EVENT REVIEW_REQUESTED_EVENT"
    " PULL_REQUEST_REVIEW PULL_REQUEST_COMMIT HEAD_REF_FORCE_PUSHED_EVENT"
)
_WHO = "{ login __typename ... on User { company email } }"
_ISSUE_NODES = f"""
    ... on IssueComment {{ databaseId createdAt body author {_WHO} }}
    ... on LabeledEvent {{ createdAt actor {_WHO} label {{ name }} }}
    ... on UnlabeledEvent {{ createdAt actor {_WHO} label {{ name }} }}
    ... on AssignedEvent {{ createdAt actor {_WHO} assignee {{ ...Named }} }}
    ... on UnassignedEvent {{ createdAt actor {_WHO} assignee {{ ...Named }} }}
    ... on ClosedEvent {{ createdAt actor {_WHO} }}
    ... on ReopenedEvent {{ createdAt actor {_WHO} }}"""
_PULL_NODES = (
    _ISSUE_NODES
    + f"""
    ... on MergedEvent {{ createdAt actor {_WHO} }}
    ... on ReadyForReviewEvent {{ createdAt actor {_WHO} }}
    ... on ConvertToDraftEvent {{ createdAt actor {_WHO} }}
    ... on ReviewRequestedEvent {{
      createdAt actor {_WHO} requestedReviewer {{ ...Named ... on Team {{ slug }} }} }}
    ... on PullRequestReview {{ databaseId state submittedAt createdAt body author {_WHO} }}
    ... on PullRequestCommit {{ commit {{ oid committedDate author {{ user {{ login }} }} }} }}
    ... on HeadRefForcePushedEvent {{ createdAt actor {_WHO} afterCommit {{ oid }} }}"""
)
_FRAGMENTS = f"""
fragment Named on Actor {{ login __typename }}
fragment IssueTimeline on IssueTimelineItemsConnection {{
  pageInfo {{ hasNextPage endCursor }}
  nodes {{ __typename {_ISSUE_NODES} }}
}}
fragment PullTimeline on PullRequestTimelineItemsConnection {{
  pageInfo {{ hasNextPage endCursor }}
  nodes {{ __typename {_PULL_NODES} }}
}}
"""
_ITEM = f"""id databaseId number title createdAt updatedAt closedAt state
      author {_WHO} authorAssociation
      labels(first: 100) {{ nodes {{ name }} }}
      assignees(first: 10) {{ nodes {{ login }} }}"""
RATE = "rateLimit { cost remaining resetAt }"

ITEMS_QUERY = f"""
query VeilleurBackfill($owner: String!, $name: String!, $first: Int!, $timeline: Int!,
    $issues: Boolean!, $pulls: Boolean!, $issuesAfter: String, $pullsAfter: String,
    $since: DateTime, $pullsDirection: OrderDirection!) {{
  repository(owner: $owner, name: $name) {{
    issues(first: $first, after: $issuesAfter, orderBy: {{field: UPDATED_AT, direction: ASC}},
           filterBy: {{since: $since}}) @include(if: $issues) {{
      totalCount
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {_ITEM}
        timelineItems(first: $timeline, itemTypes: [{ISSUE_TYPES}]) {{ ...IssueTimeline }} }}
    }}
    pullRequests(first: $first, after: $pullsAfter,
                 orderBy: {{field: UPDATED_AT, direction: $pullsDirection}}) @include(if: $pulls) {{
      totalCount
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {_ITEM} isDraft mergedAt
        timelineItems(first: $timeline, itemTypes: [{PULL_TYPES}]) {{ ...PullTimeline }} }}
    }}
  }}
  {RATE}
}}
{_FRAGMENTS}"""

TIMELINE_QUERY = f"""
query VeilleurTimeline($id: ID!, $after: String, $timeline: Int!) {{
  node(id: $id) {{
    ... on Issue {{
      timelineItems(first: $timeline, after: $after, itemTypes: [{ISSUE_TYPES}]) {{
        ...IssueTimeline }} }}
    ... on PullRequest {{
      timelineItems(first: $timeline, after: $after, itemTypes: [{PULL_TYPES}]) {{
        ...PullTimeline }} }}
  }}
  {RATE}
}}
{_FRAGMENTS}"""

REPOS_QUERY = f"""
query VeilleurRepos($org: String!, $after: String) {{
  organization(login: $org) {{
    repositories(first: 100, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ nameWithOwner isPrivate defaultBranchRef {{ name }} }}
    }}
  }}
  {RATE}
}}"""


def person(node: Json | None) -> Json:
    """A GraphQL actor as the user dict webhooks carry (`login`, `type`; Bots get `[bot]`)."""
    if not node or not node.get("login"):
        return {}
    kind = str(node.get("__typename") or "User")
    login = str(node["login"])
    if kind == "Bot" and not login.endswith("[bot]"):
        login += "[bot]"
    out: Json = {
        "login": login,
        "type": kind if kind in ("User", "Bot", "Organization") else "User",
    }
    for key in ("company", "email"):
        if node.get(key):
            out[key] = node[key]
    return out


def _at(value: Any) -> datetime | None:
    return ts(value)


def _key(kind: str, at: datetime, subject: str | None = None) -> str:
    return (
        f"{kind}:{subject}:{at.isoformat()}" if subject is not None else f"{kind}:{at.isoformat()}"
    )


def _commit_entries(node: Json, nodes: list[Json], author: Json) -> list[Entry]:
    """Pushes after the opening: every commit but the first one, and none dated before the
    pull request (they came with it). A multi-commit push thus gives one entry per commit."""
    created = _at(node.get("createdAt"))
    out: list[Entry] = []
    commits = [n for n in nodes if n.get("__typename") == "PullRequestCommit"]
    for index, item in enumerate(commits):
        commit = item.get("commit") or {}
        sha, when = commit.get("oid"), _at(commit.get("committedDate"))
        if index == 0 or not sha or (created and when and when < created):
            continue
        known = [x for x in (when, created) if x is not None]
        if not known:
            continue
        at = max(known)
        user = ((commit.get("author") or {}).get("user") or {}).get("login")
        actor = {"login": user, "type": "User"} if user else author
        out.append(Entry(K.PUSHED, at, actor, f"pushed:{sha}", {"sha": sha}))
    return out


def _event_entry(t: Json, node: Json) -> Entry | None:
    kind_name = t.get("__typename")
    at = _at(t.get("createdAt"))
    actor = person(t.get("actor") or t.get("author"))
    if kind_name == "IssueComment" and at:
        cid = t.get("databaseId")
        detail = {"comment_id": cid, "body": (t.get("body") or "")[:4000]}
        return Entry(K.COMMENTED, at, actor, f"comment:{cid}", detail)
    if kind_name == "PullRequestReview":
        state = str(t.get("state") or "").lower()
        when = _at(t.get("submittedAt")) or at
        if state == "pending" or when is None:
            return None
        rid = t.get("databaseId")
        detail = {"review_id": rid, "state": state, "body": (t.get("body") or "")[:4000]}
        return Entry(K.REVIEWED, when, actor, f"review:{rid}", detail)
    if at is None:
        return None
    if kind_name in ("LabeledEvent", "UnlabeledEvent"):
        kind = K.LABELED if kind_name == "LabeledEvent" else K.UNLABELED
        name = str((t.get("label") or {}).get("name") or "")
        return Entry(kind, at, actor, _key(kind, at, name), {"label": name})
    if kind_name in ("AssignedEvent", "UnassignedEvent"):
        kind = K.ASSIGNED if kind_name == "AssignedEvent" else K.UNASSIGNED
        who = person(t.get("assignee")).get("login", "")
        return Entry(kind, at, actor, _key(kind, at, who), {"assignee": who})
    if kind_name == "ReviewRequestedEvent":
        target = t.get("requestedReviewer") or {}
        who = person(target).get("login") or str(target.get("slug") or "")
        return Entry(
            K.REVIEW_REQUESTED, at, actor, _key(K.REVIEW_REQUESTED, at, who), {"reviewer": who}
        )
    if kind_name == "MergedEvent":
        at = _at(node.get("mergedAt")) or at
        return Entry(K.MERGED, at, actor, _key(K.MERGED, at))
    if kind_name == "HeadRefForcePushedEvent":
        sha = (t.get("afterCommit") or {}).get("oid") or ""
        return Entry(K.PUSHED, at, actor, f"pushed:{sha}", {"sha": sha}) if sha else None
    simple = {
        "ClosedEvent": K.CLOSED,
        "ReopenedEvent": K.REOPENED,
        "ReadyForReviewEvent": K.READY_FOR_REVIEW,
        "ConvertToDraftEvent": K.CONVERTED_TO_DRAFT,
    }
    simple_kind = simple.get(str(kind_name))
    return Entry(simple_kind, at, actor, _key(simple_kind, at)) if simple_kind else None


def item_record(repo: str, node: Json, timeline: list[Json], is_pull: bool) -> Recorded:
    """Pure step: one GraphQL item and all its timeline nodes -> snapshot and entries."""
    author = person(node.get("author")) or {"login": "ghost", "type": "User"}
    state = str(node.get("state") or "OPEN").lower()
    item: Json = {
        "repo_full_name": repo,
        "owner": repo.split("/")[0],
        "number": node["number"],
        "kind": "pull" if is_pull else "issue",
        "github_id": node.get("databaseId"),
        "title": node.get("title") or "",
        "author_login": author["login"],
        "author_type": author.get("type") or "User",
        "author_association": node.get("authorAssociation"),
        "state": "closed" if state == "merged" else state,
        "draft": bool(node.get("isDraft")),
        "created_at": _at(node.get("createdAt")),
        "updated_at": _at(node.get("updatedAt")),
        "closed_at": _at(node.get("closedAt")),
        "merged_at": _at(node.get("mergedAt")),
        "labels": sorted(n.get("name", "") for n in (node.get("labels") or {}).get("nodes") or []),
        "assignees": sorted(
            person(n).get("login", "") or n.get("login", "")
            for n in (node.get("assignees") or {}).get("nodes") or []
        ),
    }
    if author.get("company"):
        item["author_company"] = author["company"]
    email = str(author.get("email") or "")
    if "@" in email:
        item["author_email_domain"] = email.rsplit("@", 1)[1].lower()
    entries = [Entry(K.OPENED, item["created_at"], author, "opened")] if item["created_at"] else []
    closes = [i for i, t in enumerate(timeline) if t.get("__typename") == "ClosedEvent"]
    merged = item["merged_at"] is not None
    for index, t in enumerate(timeline):
        if merged and closes and index == closes[-1]:
            continue  # the close that came with the merge: webhooks record it as `merged`
        entry = _event_entry(t, node)
        if entry is not None:
            entries.append(entry)
    if is_pull:
        entries += _commit_entries(node, timeline, author)
    closers = [e for e in entries if e.kind in (K.CLOSED, K.MERGED)]
    if closers:  # kept after a reopen, as the webhook record keeps it
        item["closed_by"] = closers[-1].actor.get("login")
    return Recorded(repo=repo, item=item, author=author, entries=entries)
