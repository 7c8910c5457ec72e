"""Forge-qualified repository names, owners, item pages and references."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlmodel import SQLModel

from bot.clock import FrozenClock
from bot.digest.assemble import _url
from bot.forge import ItemRef, RepoName, owner_of
from bot.forge.links import WebLinks, item_ref, short_ref
from bot.forge.names import PULL_NUMBER_BASE
from bot.storage.db import make_engine


def test_github_names_stay_as_they_were() -> None:
    name = RepoName.parse("paris/lutece-core")
    assert (name.host, name.path, name.full_name, name.on_github) == (
        "github.com", "paris/lutece-core", "paris/lutece-core", True
    )  # fmt: skip
    assert owner_of("paris/lutece-core") == "paris"


def test_gitlab_names_carry_their_host_and_subgroups() -> None:
    name = RepoName.parse("code.europa.eu/digit/eu-login/portal")
    assert (name.host, name.namespace, name.name) == ("code.europa.eu", "digit/eu-login", "portal")
    assert owner_of(name.full_name) == "code.europa.eu/digit/eu-login"
    assert RepoName.parse("gitlab.com/x").on_github  # a host needs a project path after it


def test_item_pages_and_references_on_each_forge() -> None:
    mr = PULL_NUMBER_BASE + 7
    links = WebLinks.of("https://github.com")
    assert links.item("paris/app", "pull", 7) == "https://github.com/paris/app/pull/7"
    assert links.item("paris/app", "issue", 7) == "https://github.com/paris/app/issues/7"
    assert links.item("gitlab.example.org/city/app", "pull", mr) == (
        "https://gitlab.example.org/city/app/-/merge_requests/7"
    )
    assert _url("https://github.com", "gitlab.example.org/city/app", "issue", 7) == (
        "https://gitlab.example.org/city/app/-/issues/7"
    )  # the digest links GitLab items to GitLab
    assert str(ItemRef("gitlab.example.org/city/app", 7, is_pull=True)) == (
        "gitlab.example.org/city/app!7"
    )
    assert str(ItemRef("paris/app", 7, is_pull=True)) == "paris/app#7"
    assert item_ref("gitlab.example.org/city/app", mr) == "gitlab.example.org/city/app!7"
    assert item_ref("gitlab.example.org/city/app", 7) == "gitlab.example.org/city/app#7"
    assert (item_ref("paris/app", 7), short_ref(mr)) == ("paris/app#7", "!7")


def test_links_keep_the_scheme_port_and_path_of_each_forge() -> None:
    links = WebLinks.of("https://ghe.example.org/", "http://127.0.0.1:8123", "https://x.org/gl/")
    mr = PULL_NUMBER_BASE + 3
    assert links.repo("paris/app") == "https://ghe.example.org/paris/app"
    assert links.item("127.0.0.1/paris/sub/app", "pull", mr) == (
        "http://127.0.0.1:8123/paris/sub/app/-/merge_requests/3"
    )
    assert links.item("x.org/city/app", "issue", 4) == "https://x.org/gl/city/app/-/issues/4"
    # A host it was not told about: https on the default port.
    assert links.repo("code.europa.eu/digit/app") == "https://code.europa.eu/digit/app"


def test_every_gitlab_setting_is_in_the_readme() -> None:
    from pathlib import Path

    from bot.gitlab.settings import GitLabSettings

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## GitLab\n", 1)[1].split("\n## ", 1)[0]
    missing = [
        f"VEILLEUR_GITLAB_{name.upper()}"
        for name in GitLabSettings.model_fields
        if f"VEILLEUR_GITLAB_{name.upper()}" not in section
    ]
    assert missing == []


def test_an_orgs_own_repository_on_each_forge() -> None:
    from bot.config.schema import VeilleurConfig
    from bot.digest.configs import OrgConfigs
    from bot.digest.publish import publication_config
    from bot.forge import org_config_repo

    assert org_config_repo("paris") == "paris/.github"
    assert org_config_repo("127.0.0.1/paris") == "127.0.0.1/paris/gitlab-profile"
    assert org_config_repo("code.europa.eu/digit/eu") == "code.europa.eu/digit/eu/gitlab-profile"
    own = VeilleurConfig.model_validate({"language": "nl", "digest": {"enabled": True}})
    other = VeilleurConfig.model_validate({"language": "de", "digest": {"enabled": True}})
    configs = {"gl.org/city/app": other, "gl.org/city/gitlab-profile": own}
    assert OrgConfigs("gl.org/city", configs).default.language == "nl"  # the group's own
    assert publication_config("gl.org/city", configs) is own


def test_an_orgs_own_repository_is_told_apart() -> None:
    from bot.forge.names import is_org_config_repo

    assert is_org_config_repo("paris/.github") and is_org_config_repo("h.org/g/gitlab-profile")
    assert is_org_config_repo("h.org/g/sub/gitlab-profile")
    assert not is_org_config_repo("paris/gitlab-profile")  # a GitHub repository of that name
    assert not is_org_config_repo("h.org/g/.github") and not is_org_config_repo("paris/app")


class _FilesAsked:
    """A forge answering no file at all, keeping which repository each read named."""

    def __init__(self) -> None:
        self.repos: list[str] = []

    async def get_file(
        self, repo: str, path: str, ref: str | None = None, *, keep: bool = False
    ) -> str | None:
        self.repos.append(repo)
        return None

    async def list_dir(self, repo: str, path: str, *, keep: bool = False) -> list[dict[str, str]]:
        self.repos.append(repo)
        return []


@pytest.mark.parametrize("owner", ["paris", "gitlab.example.org/city/sub"])
async def test_the_org_files_are_read_from_the_repository_org_config_repo_names(
    owner: str, tmp_path: Path
) -> None:
    """The organisation's configuration and its template overrides are asked of the forge by
    the one name `org_config_repo` gives (GitHub's `.github`, a group's `gitlab-profile`):
    no caller spells it, no forge client translates it."""
    from bot.config.loader import ConfigLoader
    from bot.forge.names import org_config_repo
    from bot.messages.overrides import TemplateOverrides
    from bot.messages.templating import Renderer

    engine = make_engine(f"sqlite:///{tmp_path / 'names.db'}")
    SQLModel.metadata.create_all(engine)
    clock, repo = FrozenClock(datetime(2026, 3, 2, tzinfo=UTC)), f"{owner}/app"
    forge = _FilesAsked()
    await ConfigLoader(engine, clock, 3600).for_repo(cast(Any, forge), repo, "main")
    assert set(forge.repos) == {org_config_repo(owner), repo}
    forge.repos.clear()
    await TemplateOverrides(Renderer(), clock, 3600).renderer_for(forge, repo)
    assert forge.repos == [org_config_repo(owner)]
    engine.dispose()
