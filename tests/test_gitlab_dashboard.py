"""A GitLab group on the dashboard, in the digest and in `veilleur digest`, end to end on the
simulated GitLab: its pages under `/orgs/<host>~<group>`, merge requests shown `!N`, and every
link to GitLab keeping the instance's scheme and port."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.cli import main
from bot.gitlab.numbers import split
from bot.sim.gitlab import GitLabServer, GitLabWorld
from tests.forge_sites import PROJECT, GitLabSite, seed_gitlab_city
from tests.harness import City, seed_city

C = City()
GROUP = "127.0.0.1/paris"
SLUG = "127.0.0.1~paris"


@pytest.fixture
def gitlab_site(
    request: pytest.FixtureRequest,
    harness_factory: Any,
    forge: Any,
    gitlab_world: GitLabWorld,
    monkeypatch: pytest.MonkeyPatch,
) -> GitLabSite:
    """tests/forge_sites.py's GitLab city, with the open (demo) dashboard."""
    seed_city(forge)
    server = GitLabServer(gitlab_world).start()
    request.addfinalizer(server.stop)
    seed_gitlab_city(gitlab_world, C)
    monkeypatch.setenv("VEILLEUR_GITLAB_URL", server.url)
    monkeypatch.setenv("VEILLEUR_GITLAB_TOKEN", gitlab_world.api_token)
    monkeypatch.setenv("VEILLEUR_GITLAB_WEBHOOK_SECRET", gitlab_world.webhook_token)
    h = harness_factory(dashboard_open=True)
    gitlab_world.webhook_url = forge.webhook_url.replace("/webhooks/github", "/webhooks/gitlab")
    return GitLabSite(h, gitlab_world, "127.0.0.1")


def test_a_gitlab_group_on_the_dashboard_and_in_the_digest(
    gitlab_site: GitLabSite, capsys: pytest.CaptureFixture[str]
) -> None:
    site = gitlab_site
    issue = site.open_issue(
        C.citizen_nl, "Kaart laadt niet", "De kaart laadt niet op mijn telefoon."
    )
    mr = site.open_change(C.citizen_nl, "Kaart repareren", "Dit lost de kaart op.", ["a.md"])
    assert site.harness.failures() == []
    site.harness.clock.set(site.harness.clock.now() + timedelta(days=8))  # the week is complete
    instance = site.world.url.rstrip("/")
    assert ":" in instance.split("//", 1)[1]  # a port: links must keep it
    mr_url = f"{instance}/{PROJECT}/-/merge_requests/{split(mr)[1]}"
    repo = f"{GROUP}/lutece-core"
    web = TestClient(site.harness.app)

    assert f'href="/orgs/{SLUG}"' in web.get("/").text
    orgs = {o["org"]: o for o in web.get("/api/orgs").json()}
    assert orgs[GROUP]["slug"] == SLUG and orgs[GROUP]["repositories"] == 1

    page = web.get(f"/orgs/{SLUG}")
    assert page.status_code == 200
    assert f"{repo}!{split(mr)[1]}" in page.text and f"{repo}#{issue}" in page.text
    assert f'href="/orgs/{SLUG}/items/lutece-core/{mr}"' in page.text
    waiting = web.get(f"/api/orgs/{SLUG}/waiting").json()["items"]
    assert {w["url"] for w in waiting} == {
        mr_url, f"{instance}/{PROJECT}/-/issues/{issue}"
    }  # fmt: skip

    item = web.get(f"/orgs/{SLUG}/items/lutece-core/{mr}")
    assert item.status_code == 200 and f'href="{mr_url}"' in item.text
    assert f"!{split(mr)[1]}" in item.text
    repo_page = web.get(f"/orgs/{SLUG}/repos/lutece-core")
    assert repo_page.status_code == 200 and f'href="{instance}/{PROJECT}"' in repo_page.text
    assert web.get(f"/orgs/{SLUG}/items/lutece-core/{mr + 1}").status_code == 404

    at = site.harness.clock.now().isoformat()
    url = site.harness.settings.database_url
    assert main(["--database-url", url, "digest", "--org", GROUP, "--at", at, "--format",
                 "json"]) == 0  # fmt: skip
    digest = json.loads(capsys.readouterr().out)
    assert digest["org"] == GROUP
    assert mr_url in {w["url"] for w in digest["waiting"]}
    assert main(["--database-url", url, "digest", "--org", GROUP, "--at", at]) == 0
    assert f"{repo}!{split(mr)[1]}" in capsys.readouterr().out
