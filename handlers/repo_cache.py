"""Keeps the per-repository API cache honest: label and push events forget what they change."""

from __future__ import annotations

from typing import Any

from bot.dispatch.context import Context, Event
from bot.record.repo_cache import touches_profile

NAME = "repo_cache"
EVENTS = {("label", None), ("push", None)}


def plan(name: str, payload: dict[str, Any]) -> list[str]:
    """Pure step: which caches of the event's repository to forget (`labels`, `profile`)."""
    if name == "label":
        return ["labels"]
    if name != "push":
        return []
    repo = payload.get("repository") or {}
    branch = repo.get("default_branch") or repo.get("master_branch")
    if branch and payload.get("ref") != f"refs/heads/{branch}":
        return []
    commits = payload.get("commits") or []
    if len(commits) >= 20:  # GitHub lists at most 20 commits: the rest is unknown
        return ["profile"]
    paths = [
        p for c in commits for key in ("added", "modified", "removed") for p in c.get(key) or []
    ]
    return ["profile"] if touches_profile(paths) else []


async def handle(event: Event, ctx: Context) -> None:
    cache = ctx.services.get("repo_cache")
    if cache is None or event.repo is None:
        return
    for what in plan(event.name, event.payload):
        if what == "labels":
            cache.forget_labels(event.repo)
        else:
            cache.forget_profile(event.repo)
