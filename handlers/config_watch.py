"""Configuration changes: refresh the cache, report mistakes in one issue, check pull requests.

- A push touching `.github/veilleur.yml` (or the org `.github` repository) drops the cache.
  Messages name the file where the repository's forge keeps it (`repo_file_name`: GitLab's
  `.gitlab/veilleur.yml`).
- Invalid config on the default branch: one "Veilleur configuration error" issue, updated in
  place, closed when the file is fixed. Veilleur keeps using the last valid config meanwhile.
- A pull request that changes the file gets a check run with the same errors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.config.errors import ConfigError
from bot.config.loader import load_default, org_only_errors, parse_config_text, validate_layers
from bot.dispatch.context import Context, Event
from bot.effects.actions import Action, CreateCheckRun, UpsertIssue, marker
from bot.forge.names import (
    CONFIG_PATH,
    is_org_config_repo,
    override_file_name,
    owner_of,
    repo_file_name,
)
from bot.messages.templating import Renderer, T

NAME = "config_watch"
EVENTS = {
    ("push", None),
    ("pull_request", "opened"),
    ("pull_request", "synchronize"),
    ("pull_request", "reopened"),
}
CHECK_NAME = "Veilleur configuration"


@dataclass(frozen=True)
class Fix:
    """When and by which commit a configuration became valid again."""

    at: str  # e.g. "2026-03-02 10:00 UTC"
    commit: str  # short sha
    author: str | None = None


def fix_of(payload: dict[str, Any], now: datetime) -> Fix:
    """Pure step: the fixing commit of a `push` (its head commit), and when it landed."""
    head = payload.get("head_commit") if isinstance(payload.get("head_commit"), dict) else {}
    sha = str((head or {}).get("id") or payload.get("after") or "")[:12]
    when = now
    stamp = (head or {}).get("timestamp")
    if isinstance(stamp, str) and stamp:
        try:
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            pass
    author = ((head or {}).get("author") or {}).get("username") or (
        (payload.get("sender") or {}).get("login")
    )
    return Fix(f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC", sha, author)


def error_issue(
    repo: str,
    errors: list[Any],
    lang: str,
    renderer: Renderer,
    previous: list[Any] | None = None,
    fix: Fix | None = None,
) -> UpsertIssue:
    """Pure step: the one config-error issue, opened/updated when there are errors, else
    closed; closed, it keeps the `previous` errors and says when and by which commit (`fix`)
    they were fixed."""
    mark = marker("config-error", repo)
    if not errors:
        body = ""  # nothing known to say: the effect then leaves the issue's text as it is
        if previous and fix is not None:
            body = renderer.render(
                T.CONFIG_ERROR_ISSUE, lang, repo=repo, errors=previous, last_valid=True, fixed=fix
            ).tagged
        return UpsertIssue(repo=repo, marker=mark, title="", body=body, close=True)
    result = renderer.render(
        T.CONFIG_ERROR_ISSUE,
        lang,
        repo=repo,
        errors=errors,
        last_valid=True,
        config_file=repo_file_name(repo),
    )
    return UpsertIssue(
        repo=repo,
        marker=mark,
        title=result.title or "Veilleur configuration error",
        body=result.tagged,
    )


def override_errors(org: str, renderer: Renderer) -> list[ConfigError]:
    """The org's template overrides that fell back to the packaged templates, as config errors,
    each named where it was read (a GitLab group's `.gitlab/veilleur/templates`, or the earlier
    `.github/veilleur/templates`)."""
    return [
        ConfigError(
            file=override_file_name(org, failure.file, renderer.origin),
            line=failure.line,
            column=None,
            path="",
            message=f"template override not used (the packaged one was): {failure.message}",
        )
        for failure in sorted(renderer.failures.values(), key=lambda f: f.file)
    ]


async def report_override_failures(
    ctx: Context, repo: str, renderer: Renderer, resolved: Any
) -> None:
    """A broken org template override is reported once per repository, in the config-error
    issue, beside the configuration's own errors."""
    found = override_errors(owner_of(repo), renderer)
    if not found:
        return
    errors = [*resolved.errors, *found]
    digest = hashlib.sha256("\n".join(map(str, errors)).encode()).hexdigest()[:16]
    issue = error_issue(repo, errors, resolved.config.language, renderer)
    await ctx.apply([replace(issue, once=f"override-error:{repo.lower()}:{digest}")])


def check_run(repo: str, head_sha: str, errors: list[Any]) -> Action:
    name = repo_file_name(repo)
    if errors:
        summary = "\n".join(f"- `{e}`" for e in errors)
        return CreateCheckRun(
            repo, head_sha, CHECK_NAME, "failure", f"{len(errors)} error(s) in {name}", summary
        )
    return CreateCheckRun(repo, head_sha, CHECK_NAME, "success", f"{name} is valid", "No errors.")


async def handle(event: Event, ctx: Context) -> None:
    repo, api = event.repo, ctx.github
    if repo is None or api is None:
        return
    loader = ctx.services["config"]
    renderer: Renderer = await ctx.services["overrides"].renderer_for(api, repo)
    if event.name == "push":
        if not loader.on_push(event.payload):
            return
        owner = owner_of(repo)
        if is_org_config_repo(repo):
            ctx.services["overrides"].invalidate(owner)
            return  # org-level: each repository reports on its next event
        previous = loader.last_errors(repo)
        resolved = await ctx.config()
        if resolved is None:
            return
        lang = resolved.config.language
        fix = fix_of(event.payload, ctx.now())
        action = error_issue(repo, list(resolved.errors), lang, renderer, previous, fix)
        await ctx.apply([action])
        return
    pull = event.payload.get("pull_request") or {}
    files = await api.list_pull_files(repo, pull["number"])
    if not any(f.get("filename") == repo_file_name(repo) for f in files):
        return  # the forge lists the file where it keeps it (GitLab: `.gitlab/veilleur.yml`)
    head = pull.get("head") or {}
    text = await api.get_file(repo, CONFIG_PATH, ref=head.get("sha"))
    if text is None:
        return
    await ctx.apply([check_run(repo, head.get("sha", ""), file_errors(repo, text))])


def file_errors(repo: str, text: str) -> list[ConfigError]:
    """The errors of `repo`'s configuration file `text` on its own, as the check run shows
    them (what only the organisation's own file may say included)."""
    name = repo_file_name(repo)
    data, errors = parse_config_text(text, name)
    if not errors:
        errors = validate_layers(load_default(), None, (data, name))[1]
    if not is_org_config_repo(repo):
        errors += org_only_errors((data, name))
    return errors
