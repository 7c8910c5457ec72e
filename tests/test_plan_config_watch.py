"""`handlers.config_watch`'s pure steps: the check run on a pull request that changes the
configuration, the one configuration-error issue, and who fixed it.

Real `pull_request.opened` and `push` payloads, configuration texts, a frozen now.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.config.errors import ConfigError
from bot.config.loader import CONFIG_PATH, load_default, parse_config_text, validate_layers
from bot.effects.actions import CreateCheckRun, UpsertIssue
from bot.messages.templating import Renderer, T
from handlers import config_watch
from tests.plan_support import NOW, changed, event, example

BAD = "language: fr\nlabels:\n  extrnal: outside\n"


def pull_request_check(payload: dict[str, Any], text: str) -> Any:
    """What `config_watch.handle` decides for a pull request whose head has config `text`."""
    ev = event("pull_request", payload)
    data, errors = parse_config_text(text, CONFIG_PATH)
    if not errors:
        errors = validate_layers(load_default(), None, (data, CONFIG_PATH))[1]
    head = ev.payload["pull_request"]["head"]
    assert ev.repo is not None
    return config_watch.check_run(ev.repo, head["sha"], errors)


def test_a_valid_configuration_in_a_pull_request_passes_its_check() -> None:
    payload = example("pull_request", "opened")
    check = pull_request_check(payload, "language: fr\nsla:\n  first_response_days: 2\n")
    assert check == CreateCheckRun(
        "Codertocat/Hello-World",
        "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        config_watch.CHECK_NAME,
        "success",
        f"{CONFIG_PATH} is valid",
        "No errors.",
    )


@pytest.mark.parametrize(
    ("text", "line", "where"),
    [(BAD, 3, "labels.extrnal"), ("sla: [\n", 2, ""), ("language: es\n", 1, "language")],
    ids=["unknown-key", "yaml-syntax", "bad-value"],
)
def test_an_invalid_configuration_fails_the_check_with_its_lines(
    text: str, line: int, where: str
) -> None:
    check = pull_request_check(example("pull_request", "opened"), text)
    assert isinstance(check, CreateCheckRun) and check.conclusion == "failure"
    assert check.title == f"1 error(s) in {CONFIG_PATH}"
    assert f"{CONFIG_PATH}:{line}:" in check.summary and where in check.summary


def test_the_check_is_on_the_pull_requests_head() -> None:
    payload = changed(example("pull_request", "opened"), pull_request__head__sha="f" * 40)
    assert pull_request_check(payload, "").head_sha == "f" * 40


def test_errors_on_the_default_branch_open_one_issue() -> None:
    errors = [ConfigError(CONFIG_PATH, 3, 3, "labels.extrnal", "unknown key")]
    issue = config_watch.error_issue("Codertocat/Hello-World", errors, "en", Renderer())
    assert isinstance(issue, UpsertIssue) and not issue.close
    assert issue.marker == "<!-- veilleur:config-error:Codertocat/Hello-World -->"
    assert issue.title == "Veilleur configuration error"
    assert "veilleur.yml:3" in issue.body and "unknown key" in issue.body


def test_the_issue_speaks_the_repository_language() -> None:
    errors = [ConfigError(CONFIG_PATH, 3, 3, "labels.extrnal", "unknown key")]
    fr = config_watch.error_issue("Codertocat/Hello-World", errors, "fr", Renderer())
    en = config_watch.error_issue("Codertocat/Hello-World", errors, "en", Renderer())
    assert fr.body != en.body and fr.marker == en.marker
    assert "Until this is fixed" in en.body and "Until this is fixed" not in fr.body


def test_a_push_that_fixes_the_file_closes_the_issue_naming_the_commit() -> None:
    payload = example("push", "with-new-branch")
    fix = config_watch.fix_of(payload, NOW)
    assert fix == config_watch.Fix("2019-05-15 15:19 UTC", "6113728f27ae", "Codertocat")
    previous = [ConfigError(CONFIG_PATH, 3, 3, "labels.extrnal", "unknown key")]
    closed = config_watch.error_issue("Codertocat/Hello-World", [], "en", Renderer(), previous, fix)
    assert closed.close and "6113728f27ae" in closed.body and "labels.extrnal" in closed.body


def test_a_fix_without_head_commit_uses_the_push_and_the_frozen_now() -> None:
    """A tag push (the real `push` example) has no head commit: its `after` and now are used."""
    payload = changed(example("push", ""), after="a1b2c3d4e5f6a7b8c9d0")
    fix = config_watch.fix_of(payload, NOW)
    assert fix == config_watch.Fix(f"{NOW:%Y-%m-%d %H:%M} UTC", "a1b2c3d4e5f6", "Codertocat")


def test_a_fix_with_an_unreadable_timestamp_uses_now() -> None:
    payload = changed(example("push", "with-new-branch"), head_commit__timestamp="yesterday")
    assert config_watch.fix_of(payload, NOW).at == f"{NOW:%Y-%m-%d %H:%M} UTC"


def test_a_closed_issue_without_known_errors_keeps_its_text() -> None:
    fix = config_watch.fix_of(example("push", "with-new-branch"), NOW)
    closed = config_watch.error_issue("Codertocat/Hello-World", [], "en", Renderer(), [], fix)
    assert closed.close and closed.body == ""


def test_a_broken_org_template_override_is_reported_as_a_config_error() -> None:
    renderer = Renderer(overrides={"en/stale_close.md.j2": "Closing {% if %}"})
    assert (
        "Closing, as there has been no answer"
        in renderer.render(T.STALE_CLOSE, "en", author="x").text
    )
    (error,) = config_watch.override_errors("Codertocat", renderer)
    assert error.file == "Codertocat/.github/.github/veilleur/templates/en/stale_close.md.j2"
    assert error.message.startswith("template override not used (the packaged one was)")
    assert config_watch.override_errors("Codertocat", Renderer()) == []


GITLAB_REPO = "gitlab.example.org/utrecht/kaart"


def test_on_gitlab_the_check_and_the_issue_name_the_projects_own_file() -> None:
    """A GitLab project keeps its file at `.gitlab/veilleur.yml`: the merge request's status,
    the issue and the command to check a file name it there, not at `.github/`."""
    (error,) = config_watch.file_errors(GITLAB_REPO, BAD)
    assert (error.file, error.line) == (".gitlab/veilleur.yml", 3)
    check = config_watch.check_run(GITLAB_REPO, "f" * 40, [error])
    assert isinstance(check, CreateCheckRun)
    assert check.title == "1 error(s) in .gitlab/veilleur.yml"
    assert "`.gitlab/veilleur.yml:3: labels.extrnal" in check.summary
    assert config_watch.check_run(GITLAB_REPO, "f" * 40, []).title == (  # type: ignore[attr-defined]
        ".gitlab/veilleur.yml is valid"
    )
    issue = config_watch.error_issue(GITLAB_REPO, [error], "en", Renderer())
    assert "`veilleur config check .gitlab/veilleur.yml`" in issue.body
    assert ".github/" not in issue.body
    github = config_watch.error_issue("Codertocat/Hello-World", [error], "en", Renderer())
    assert "`veilleur config check .github/veilleur.yml`" in github.body


def test_a_broken_override_of_a_gitlab_group_names_its_gitlab_profile() -> None:
    renderer = Renderer(overrides={"en/stale_close.md.j2": "Closing {% if %}"})
    renderer.render(T.STALE_CLOSE, "en", author="x")
    (error,) = config_watch.override_errors("gitlab.example.org/utrecht", renderer)
    assert error.file == (
        "gitlab.example.org/utrecht/gitlab-profile/.gitlab/veilleur/templates/en/stale_close.md.j2"
    )
    earlier = Renderer(overrides=renderer.overrides, origin=".github/veilleur/templates")
    earlier.render(T.STALE_CLOSE, "en", author="x")  # read at the earlier place: named there
    (error,) = config_watch.override_errors("gitlab.example.org/utrecht", earlier)
    assert error.file == (
        "gitlab.example.org/utrecht/gitlab-profile/.github/veilleur/templates/en/stale_close.md.j2"
    )
