"""Timeline events the forge keeps besides comments, reviews and commits, and the merged
timeline of an item in GitHub's order (what GraphQL `timelineItems` lists).

Every change that GitHub shows on an item's timeline records an `IssueEvent` with its actor
and time; the time is the item's new `updated_at`, as in the webhook GitHub sends for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.sim.models import Comment, Commit, Issue, IssueEvent, Repo, Review
from bot.sim.state import ForgeState, node_id


@dataclass(frozen=True)
class TimelineItem:
    """One entry of an item's timeline: `kind` is the GraphQL type name."""

    kind: str  # IssueComment | PullRequestReview | PullRequestCommit | LabeledEvent | …
    at: datetime
    record: Comment | Review | Commit | IssueEvent
    key: str  # stable and unique within the item (cursor material)


EVENT_TYPES = {
    "labeled": "LabeledEvent",
    "unlabeled": "UnlabeledEvent",
    "assigned": "AssignedEvent",
    "unassigned": "UnassignedEvent",
    "closed": "ClosedEvent",
    "reopened": "ReopenedEvent",
    "merged": "MergedEvent",
    "ready_for_review": "ReadyForReviewEvent",
    "converted_to_draft": "ConvertToDraftEvent",
    "review_requested": "ReviewRequestedEvent",
}


class TimelineOps(ForgeState):
    def record_event(
        self,
        issue: Issue,
        kind: str,
        actor: str | None,
        at: datetime | None = None,
        subject: str | None = None,
    ) -> IssueEvent:
        with self.lock:
            ident = self.new_id()
            who = self.ensure_user(actor).login if actor else None
            event = IssueEvent(
                ident, node_id(EVENT_TYPES.get(kind, "Event"), ident), kind, who,
                at or self.now(), subject,
            )  # fmt: skip
            issue.events.append(event)
            return event

    def request_reviewers(
        self,
        issue: Issue,
        users: Iterable[str],
        teams: Iterable[str],
        *,
        actor: str | None = None,
    ) -> tuple[list[str], list[str]]:
        """Returns the users and team slugs newly requested."""
        assert issue.pull is not None
        with self.lock:
            pull = issue.pull
            new_users = [self.ensure_user(u).login for u in users]
            new_users = [u for u in new_users if u not in pull.requested_reviewers]
            new_teams = [t for t in teams if t not in pull.requested_teams]
            pull.requested_reviewers.extend(new_users)
            pull.requested_teams.extend(new_teams)
            issue.updated_at = self.now()
            for who in new_users + [f"@{t}" for t in new_teams]:
                self.record_event(issue, "review_requested", actor, issue.updated_at, who)
            return new_users, new_teams

    def set_draft(self, issue: Issue, draft: bool, *, actor: str | None = None) -> bool:
        """Ready for review (False) or back to draft (True); False when nothing changed."""
        assert issue.pull is not None
        with self.lock:
            if issue.pull.draft == draft:
                return False
            issue.pull.draft = draft
            issue.updated_at = self.now()
            kind = "converted_to_draft" if draft else "ready_for_review"
            self.record_event(issue, kind, actor, issue.updated_at)
            return True

    def timeline_of(self, repo: Repo, issue: Issue) -> list[TimelineItem]:
        """Comments, events, and for pull requests reviews and commits, oldest first."""
        with self.lock:
            items = [
                TimelineItem("IssueComment", c.created_at, c, f"c{c.id}")
                for c in repo.comments.values()
                if c.issue_number == issue.number
            ]
            items += [
                TimelineItem(EVENT_TYPES.get(e.kind, "Event"), e.created_at, e, f"e{e.id}")
                for e in issue.events
            ]
            if issue.pull is not None:
                items += [
                    TimelineItem("PullRequestReview", r.submitted_at, r, f"r{r.id}")
                    for r in issue.pull.reviews
                ]
                items += [
                    TimelineItem("PullRequestCommit", c.timestamp, c, f"k{i:06d}")
                    for i, c in enumerate(issue.pull.commits)
                ]
        order = {"k": 0, "c": 1, "r": 1, "e": 1}
        return sorted(items, key=lambda t: (t.at, order[t.key[0]], int(t.key[1:])))
