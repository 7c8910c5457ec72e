"""Issue and merge request numbers. GitLab counts issues (`#7`) and merge requests (`!7`)
separately, while Veilleur keys an item by (repository, number) as GitHub does. A merge
request is therefore stored as `MR_BASE + iid`; nothing on GitLab is ever that large."""

from __future__ import annotations

from bot.forge.names import PULL_NUMBER_BASE as MR_BASE


def item_number(iid: int, merge_request: bool) -> int:
    return MR_BASE + iid if merge_request else iid


def split(number: int) -> tuple[str, int]:
    """(`issues` or `merge_requests`, iid): the REST collection of a Veilleur item number."""
    if number > MR_BASE:
        return "merge_requests", number - MR_BASE
    return "issues", number


def shown(number: int) -> str:
    """How GitLab writes the reference: `#7` or `!7`."""
    kind, iid = split(number)
    return f"!{iid}" if kind == "merge_requests" else f"#{iid}"
