"""One driver per forge for the scenarios both forges share (tests/test_forges.py): the same
city, people and configuration on the simulated GitHub and on the simulated GitLab, and the
same few verbs, so that one test body checks both and the forges cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pytest

from bot.sim.gitlab import GitLabServer, GitLabWorld
from bot.sim.gitlab import items as gl
from handlers.config_watch import CHECK_NAME
from tests.harness import CITY_CONFIG, City, Harness, seed_city


class Site(Protocol):
    repo: str
    harness: Harness

    def open_issue(self, login: str, title: str, body: str) -> int: ...
    def open_change(self, login: str, title: str, body: str, files: list[str]) -> int: ...
    def comment(self, number: int, login: str, body: str) -> None: ...
    def labels(self, number: int) -> set[str]: ...
    def bot_comments(self, number: int) -> list[str]: ...
    def assignees(self, number: int) -> list[str]: ...
    def change_config(self, login: str, text: str) -> int: ...
    def config_checks(self) -> list[tuple[bool, str]]: ...


@dataclass
class GitHubSite:
    harness: Harness
    city: City

    @property
    def repo(self) -> str:
        return self.city.repo

    def open_issue(self, login: str, title: str, body: str) -> int:
        n = self.harness.forge.scenario.open_issue(self.repo, login, title, body)
        self.harness.wait()
        return n

    def open_change(self, login: str, title: str, body: str, files: list[str]) -> int:
        changes = {path: "changed\n" for path in files}
        n = self.harness.forge.scenario.open_pull(self.repo, login, title, body, files=changes)
        self.harness.wait()
        return n

    def comment(self, number: int, login: str, body: str) -> None:
        self.harness.forge.scenario.comment(self.repo, number, login, body)
        self.harness.wait()

    def labels(self, number: int) -> set[str]:
        return self.harness.labels(self.repo, number)

    def bot_comments(self, number: int) -> list[str]:
        return [c.body for c in self.harness.comments(self.repo, number)]

    def assignees(self, number: int) -> list[str]:
        return list(self.harness.forge.get_issue(self.repo, number).assignees)

    def change_config(self, login: str, text: str) -> int:
        """A pull request setting the repository's own Veilleur file to `text`."""
        files = {".github/veilleur.yml": text}
        n = self.harness.forge.scenario.open_pull(self.repo, login, "Config", "", files=files)
        self.harness.wait()
        return n

    def config_checks(self) -> list[tuple[bool, str]]:
        """(passed, title) of each configuration check run."""
        runs = self.harness.forge.get_repo(self.repo).check_runs
        return [(r.conclusion == "success", r.output.get("title", "")) for r in runs
                if r.name == CHECK_NAME]  # fmt: skip


PROJECT = "paris/lutece-core"


@dataclass
class GitLabSite:
    harness: Harness
    world: GitLabWorld
    host: str

    @property
    def repo(self) -> str:
        return f"{self.host}/{PROJECT}"

    def _done(self) -> None:
        """Until Veilleur processed the hook, and the hooks of its own changes, and theirs."""
        for _ in range(3):
            self.world.sender.settle()
            self.harness.wait()

    def open_issue(self, login: str, title: str, body: str) -> int:
        n = int(gl.open_issue(self.world, PROJECT, login, title, body)["iid"])
        self._done()
        return n

    def open_change(self, login: str, title: str, body: str, files: list[str]) -> int:
        from bot.gitlab.numbers import item_number

        item = gl.open_merge_request(self.world, PROJECT, login, title, body, files)
        self._done()
        return item_number(int(item["iid"]), True)

    def _kind(self, number: int) -> tuple[bool, int]:
        from bot.gitlab.numbers import split

        kind, iid = split(number)
        return kind == "merge_requests", iid

    def comment(self, number: int, login: str, body: str) -> None:
        merge, iid = self._kind(number)
        gl.comment(self.world, PROJECT, iid, login, body, merge=merge)
        self._done()

    def _item(self, number: int) -> dict[str, Any]:
        merge, iid = self._kind(number)
        project = self.world.projects[PROJECT]
        return (project.merge_requests if merge else project.issues)[iid]

    def labels(self, number: int) -> set[str]:
        return set(self._item(number)["labels"])

    def assignees(self, number: int) -> list[str]:
        return [a["username"] for a in self._item(number)["assignees"]]

    def change_config(self, login: str, text: str) -> int:
        """A merge request setting the project's own Veilleur file to `text` (the simulated
        GitLab keeps one version of a file: the default branch sees it too)."""
        self.world.projects[PROJECT].files[".gitlab/veilleur.yml"] = text
        return self.open_change(login, "Config", "", [".gitlab/veilleur.yml"])

    def config_checks(self) -> list[tuple[bool, str]]:
        """(passed, description) of each configuration commit status."""
        statuses = self.world.projects[PROJECT].statuses
        return [(s["status"] == "success", s["description"]) for s in statuses
                if s["name"] == CHECK_NAME]  # fmt: skip

    def bot_comments(self, number: int) -> list[str]:
        merge, iid = self._kind(number)
        kind = "merge_requests" if merge else "issues"
        notes = self.world.projects[PROJECT].notes.get((kind, iid), [])
        return [n["body"] for n in notes if n["author"]["username"] == self.world.bot["username"]]


def seed_gitlab_city(world: GitLabWorld, c: City, config: str = CITY_CONFIG) -> None:
    """The Paris of tests/harness.py, on GitLab: Maintainer access for the maintainers (GitHub's
    write and maintain), Developer in the group for the private member (an org member)."""
    for login in (c.maintainer, c.second_maintainer, c.private_member, c.citizen_en,
                  c.citizen_nl, c.supplier_user, c.citizen_fr, c.partner_user):  # fmt: skip
        world.add_user(login)
    world.add_group(c.org)
    files = {
        ".gitlab/veilleur.yml": config.replace("github_orgs: [ville-de-lyon]", "logins: [lea]"),
        ".gitlab/CODEOWNERS": "* @paris/mainteneurs\n[Docs]\ndocs/ @marie\n",
        "README.md": "# Lutèce\n",
        "CONTRIBUTING.md": "Merci de contribuer !\n",
        "docs/guide.md": "Guide\n",
    }
    world.add_project(PROJECT, files=files)
    world.add_member(c.org, world.bot["username"], 40)
    world.add_member(PROJECT, c.maintainer, 40)
    world.add_member(PROJECT, c.second_maintainer, 40)
    world.add_member(c.org, c.private_member, 30)


@pytest.fixture(params=["github", "gitlab"])
def site(
    request: pytest.FixtureRequest,
    harness_factory: Any,
    forge: Any,
    gitlab_world: GitLabWorld,
    monkeypatch: pytest.MonkeyPatch,
) -> Site:
    c = seed_city(forge)
    if request.param == "github":
        h = harness_factory()
        forge.scenario.install(c.org)
        h.wait()
        return GitHubSite(h, c)
    server = GitLabServer(gitlab_world).start()
    request.addfinalizer(server.stop)
    seed_gitlab_city(gitlab_world, c)
    monkeypatch.setenv("VEILLEUR_GITLAB_URL", server.url)
    monkeypatch.setenv("VEILLEUR_GITLAB_TOKEN", gitlab_world.api_token)
    monkeypatch.setenv("VEILLEUR_GITLAB_WEBHOOK_SECRET", gitlab_world.webhook_token)
    h = harness_factory()
    gitlab_world.webhook_url = forge.webhook_url.replace("/webhooks/github", "/webhooks/gitlab")
    return GitLabSite(h, gitlab_world, "127.0.0.1")
