"""The demo's second forge: Stad Gent's project on the simulated GitLab, what Veilleur wrote
there, and the settings that point Veilleur at it (read from the environment, as in
production, restored when the demo ends)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from bot.gitlab.numbers import item_number, split
from bot.sim.demo import world
from bot.sim.gitlab import GitLabWorld

GITLAB_ENV = ("VEILLEUR_GITLAB_URL", "VEILLEUR_GITLAB_TOKEN", "VEILLEUR_GITLAB_WEBHOOK_SECRET")


@contextmanager
def gitlab_settings(lab: GitLabWorld) -> Iterator[None]:
    """Veilleur's GitLab settings (URL, token, webhook secret) for the simulated GitLab."""
    saved = {k: os.environ.get(k) for k in GITLAB_ENV}
    os.environ.update(zip(GITLAB_ENV, (lab.url, lab.api_token, lab.webhook_token), strict=True))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def on_gitlab(repo: str) -> bool:
    return repo.startswith(f"{world.GITLAB_HOST}/")


def shown_ref(ref: str) -> str:
    """`group/project!1` for a GitLab merge request, as people write it (Veilleur records it
    as `#1000000001`); other references unchanged."""
    repo, sep, number = ref.rpartition("#")
    if not (sep and number.isdigit()):
        return ref
    kind, iid = split(int(number))
    return f"{repo}!{iid}" if kind == "merge_requests" else ref


def labels(lab: GitLabWorld, repo: str, number: int) -> list[str]:
    kind, iid = split(number)
    project = lab.projects[repo.split("/", 1)[1]]
    item = (project.merge_requests if kind == "merge_requests" else project.issues)[iid]
    return sorted(item["labels"])


def bot_notes(lab: GitLabWorld) -> list[dict[str, Any]]:
    """Veilleur's notes on the GitLab projects, in the shape of the runner's `bot_comments`."""
    out = []
    for project in lab.projects.values():
        for (kind, iid), notes in project.notes.items():
            merge = kind == "merge_requests"
            item = (project.merge_requests if merge else project.issues)[iid]
            for note in notes:
                if note["author"]["username"] != lab.bot["username"]:
                    continue
                body = note["body"]
                tag = (
                    body.split("veilleur-template:", 1)[1].split(" ", 1)[0]
                    if "veilleur-template:" in body
                    else ""
                )
                template, _, lang = tag.partition("/")
                out.append(
                    {
                        "repo": f"{world.GITLAB_HOST}/{project.path}",
                        "number": item_number(iid, merge),
                        "author": item["author"]["username"],
                        "template": template,
                        "lang": lang,
                        "at": datetime.fromisoformat(note["created_at"]).isoformat(),
                    }
                )
    return out


def forges_line(digest: dict[str, Any] | None) -> str:
    """Which forges Paris's digest covers (Gent's GitLab project through `ospo.members`)."""
    repos = [r["repo"] for r in (digest or {}).get("json", {}).get("repositories", [])]
    gitlab = [r for r in repos if on_gitlab(r)]
    return (
        f"Paris's digest covers both forges: {len(repos) - len(gitlab)} repositories on "
        f"GitHub, {len(gitlab)} project on GitLab ({', '.join(gitlab) or 'none'})"
    )
