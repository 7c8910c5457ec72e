"""GitLab's CODEOWNERS: sections, optional sections, default owners, exclusions, roles, and
the worked examples of GitLab's reference page (../shared/gitlab/api-reference/codeowners.md)."""

from __future__ import annotations

import re

from bot.gitlab.codeowners import parse_gitlab_codeowners
from tests.gitlab_fixtures import shared


def test_the_worked_example_of_gitlabs_page() -> None:
    text = "* @admin\n\n[README Owners]\nREADME.md @user1 @user2\ninternal/README.md @user4\n\n"
    text += "[README other owners]\nREADME.md @user3\n"
    owners = parse_gitlab_codeowners(text)
    assert owners.owners_of("README.md") == ("@admin", "@user1", "@user2", "@user3")
    assert owners.owners_of("internal/README.md") == ("@admin", "@user4", "@user3")
    assert owners.errors == []


def test_the_syntax_example_of_gitlabs_page_parses_cleanly() -> None:
    page = (shared() / "api-reference" / "codeowners.md").read_text()
    example = re.findall(r"```plaintext\n(.*?)```", page, re.S)[0]
    owners = parse_gitlab_codeowners(example)
    assert owners.errors == []
    assert owners.owners_of("app/models/user.rb") == ("@ruby-owner",)
    assert owners.owners_of("docs/index.md") == ("@markdown-docs", "@docs")
    # `/config/` sits under `[Documentation]`: the unnamed section adds its `*` owner
    assert owners.owners_of("config/app.yml") == ("@default-owner", "@@maintainer")
    assert "janedoe@gitlab.com" in owners.owners_of("LICENSE")


def test_sections_defaults_optional_and_exclusions() -> None:
    text = "\n".join(
        [
            "^[Docs] @writers",
            "docs/",
            "!docs/generated/",
            "[Backend][2] @backend",
            "/src/ @alice",
            "[backend]",
            "/src/legacy/",
        ]
    )
    owners = parse_gitlab_codeowners(text)
    backend = next(s for s in owners.sections if s.name == "Backend")
    assert (backend.approvals, backend.optional) == (2, False)
    assert owners.owners_of("src/legacy/a.py") == ("@backend",)  # merged section, default owners
    assert owners.owners_of("src/new.py") == ("@alice",)
    assert owners.owners_of("docs/guide.md") == ("@writers",)
    assert owners.owners_of("docs/generated/api.md") == ()
    # required sections come first when reminding
    assert owners.owners_for(["docs/guide.md", "src/new.py"]) == ("@alice", "@writers")


def test_bad_lines_are_reported_not_fatal() -> None:
    owners = parse_gitlab_codeowners("*** @a\n/ok @b not-an-owner!\n" + "x" * 5000 + "\n")
    assert len(owners.errors) == 3 and owners.owners_of("ok") == ("@b",)
