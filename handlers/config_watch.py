"""Configuration changes: refresh the cache, report mistakes in one issue, check pull requests.

- A push touching `.github/veilleur.yml` (or the org `.github` repository) drops the cache.
- Invalid config on the default branch: one "Veilleur configuration error" issue, updated in
  place, closed when the file is fixed. Veilleur keeps using the last valid config meanwhile.
- A pull request that changes the file gets a check run with the same errors.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from bot.actions import Action, CreateCheckRun, UpsertIssue, marker
from bot.config import CONFIG_PATH, load_default, parse_config_text, validate_layers
from bot.config_errors import ConfigError
from bot.overrides import OVERRIDES_DIR
from bot.templating import Renderer, T
from handlers.base import Context, Event

NAME = "config_watch"
EVENTS = {
    ("push", None),
    ("pull_request", "opened"),
    ("pull_request", "synchronize"),
    ("pull_request", "reopened"),
}
CHECK_NAME = "Veilleur configuration"


def error_issue(repo: str, errors: list[Any], lang: str, renderer: Renderer) -> UpsertIssue:
    """Pure step: the one config-error issue, opened/updated when there are errors, else closed."""
    mark = marker("config-error", repo)
    if not errors:
        return UpsertIssue(repo=repo, marker=mark, title="", body="", close=True)
    result = renderer.render(T.CONFIG_ERROR_ISSUE, lang, repo=repo, errors=errors, last_valid=True)
    return UpsertIssue(
        repo=repo,
        marker=mark,
        title=result.title or "Veilleur configuration error",
        body=result.tagged,
    )


def override_errors(org: str, renderer: Renderer) -> list[ConfigError]:
    """The org's template overrides that fell back to the packaged templates, as config errors."""
    return [
        ConfigError(
            file=f"{org}/.github/{OVERRIDES_DIR}/{failure.file}",
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
    found = override_errors(repo.split("/")[0], renderer)
    if not found:
        return
    errors = [*resolved.errors, *found]
    digest = hashlib.sha256("\n".join(map(str, errors)).encode()).hexdigest()[:16]
    issue = error_issue(repo, errors, resolved.config.language, renderer)
    await ctx.apply([replace(issue, once=f"override-error:{repo.lower()}:{digest}")])


def check_run(repo: str, head_sha: str, errors: list[Any]) -> Action:
    if errors:
        summary = "\n".join(f"- `{e}`" for e in errors)
        return CreateCheckRun(
            repo,
            head_sha,
            CHECK_NAME,
            "failure",
            f"{len(errors)} error(s) in {CONFIG_PATH}",
            summary,
        )
    return CreateCheckRun(
        repo, head_sha, CHECK_NAME, "success", f"{CONFIG_PATH} is valid", "No errors."
    )


async def handle(event: Event, ctx: Context) -> None:
    repo, api = event.repo, ctx.github
    if repo is None or api is None:
        return
    loader = ctx.services["config"]
    renderer: Renderer = await ctx.services["overrides"].renderer_for(api, repo)
    default_branch = event.payload["repository"].get("default_branch") or "main"
    if event.name == "push":
        if not loader.on_push(event.payload):
            return
        if repo.split("/")[1].lower() == ".github":
            ctx.services["overrides"].invalidate(repo.split("/")[0])
            return  # org-level: each repository reports on its next event
        resolved = await loader.for_repo(api, repo, default_branch)
        lang = resolved.config.language
        await ctx.apply([error_issue(repo, list(resolved.errors), lang, renderer)])
        return
    pull = event.payload.get("pull_request") or {}
    files = await api.list_pull_files(repo, pull["number"])
    if not any(f.get("filename") == CONFIG_PATH for f in files):
        return
    head = pull.get("head") or {}
    text = await api.get_file(repo, CONFIG_PATH, ref=head.get("sha"))
    if text is None:
        return
    data, errors = parse_config_text(text, CONFIG_PATH)
    if not errors:
        errors = validate_layers(load_default(), None, (data, CONFIG_PATH))[1]
    await ctx.apply([check_run(repo, head.get("sha", ""), errors)])
