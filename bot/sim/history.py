"""Quiet seeding of a repository's past (no webhooks): many issues and pull requests with
comments, labels, assignees, reviews, pushes and merges, for import tests and benchmarks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.sim.items import ItemOps
from bot.sim.models import FileChange


@dataclass(frozen=True)
class Seeded:
    issues: int
    pulls: int
    comments: int
    reviews: int

    @property
    def items(self) -> int:
        return self.issues + self.pulls


def seed_history(
    forge: ItemOps,
    repo: str,
    *,
    issues: int,
    pulls: int,
    comments: int = 3,
    reviews: int = 1,
    authors: Sequence[str] = ("alice", "bob", "chloe"),
    team: Sequence[str] = ("marie",),
    between: Callable[[], object] | None = None,
) -> Seeded:
    """`issues` issues and `pulls` pull requests, each with `comments` comments (authors and
    team alternating); every third item labeled and assigned, every fifth closed; pull
    requests get a push and `reviews` reviews, every other one merged. `between()` runs
    after each item (e.g. to move the clock)."""
    r = forge.get_repo(repo)
    n_comments = n_reviews = 0
    for i in range(issues + pulls):
        author, member = authors[i % len(authors)], team[i % len(team)]
        is_pull = i >= issues
        with forge.lock:
            if is_pull:
                item = forge.create_pull(
                    r, author, f"Change {i}", "Please review.", [FileChange(f"docs/{i}.md")],
                    head=f"{author}-{i}",
                )  # fmt: skip
            else:
                item = forge.create_issue(r, author, f"Report {i}", "Something is off.")
            for c in range(comments):
                who = author if c % 2 else member
                forge.add_comment(r, item, who, f"Comment {c} on #{item.number}")
                n_comments += 1
            if i % 3 == 0:
                forge.add_labels(r, item, ["bug"], actor=member)
                forge.add_assignees(r, item, [member], actor=member)
            if is_pull:
                forge.push_to_pull(item, author, [FileChange(f"docs/{i}.md")], "Fix typo")
                for _ in range(reviews):
                    forge.add_review(r, item, member, "APPROVED", "Thanks")
                    n_reviews += 1
                if i % 2 == 0:
                    forge.merge_pull(r, item, member)
            elif i % 5 == 0:
                forge.close_issue(item, member)
        if between is not None:
            between()
    return Seeded(issues, pulls, n_comments, n_reviews)
