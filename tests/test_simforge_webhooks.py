"""Scenario webhooks from the simulated forge: signed, synchronous, in GitHub's payload shapes
(validated against octokit's webhook schemas), echoed for the App's own REST actions, and
listed/redelivered through the App's hook-deliveries API."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator

from bot.github.client import make_app_client
from bot.settings import Settings
from bot.sim import Forge, ForgeServer
from tests import simforge_fixtures as fx
from tests.conftest import SHARED, need
from tests.simforge_fixtures import WebhookSink, World, seed_world

app_keypair, forge_clock, forge = fx.app_keypair, fx.forge_clock, fx.forge
forge_server, forge_settings, webhook_sink = fx.forge_server, fx.forge_settings, fx.webhook_sink
SCHEMA = SHARED / "webhook-schema" / "schema.json"


@pytest.fixture
def world(forge: Forge) -> World:
    return seed_world(forge)


@functools.cache
def _definitions() -> dict[str, Any]:
    return json.loads(need(SCHEMA).read_text())["definitions"]


def schema_problems(event: str, payload: dict[str, Any]) -> list[str]:
    """Why the payload does not match octokit's schema of `<event>$<action>`."""
    name = f"{event}${payload['action']}" if "action" in payload else f"{event}$event"
    root = {"allOf": [{"$ref": f"#/definitions/{name}"}], "definitions": _definitions()}
    errors = Draft7Validator(root).iter_errors(payload)
    return [f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors]


def bot_call(forge: Forge, world: World, method: str, path: str, body: Any = None) -> Any:
    token = forge.issue_token(forge.installations[world.installation_id]).token
    resp = httpx.request(
        method, f"{forge.api_url}{path}", json=body, headers={"Authorization": f"token {token}"}
    )
    assert resp.status_code < 300, resp.text
    return resp.json()


def test_scenario_webhooks_are_signed_and_synchronous(
    forge: Forge, webhook_sink: WebhookSink, world: World
) -> None:
    number = forge.scenario.open_issue(world.repo, world.outsider, "Lien cassé", "Voir")
    assert len(webhook_sink.received) == 1  # delivered before open_issue returned
    hit = webhook_sink.received[0]
    h = hit.headers
    assert h["x-github-event"] == "issues" and h["content-type"] == "application/json"
    assert uuid.UUID(h["x-github-delivery"]) and h["x-github-hook-id"] == "1"
    assert h["user-agent"].startswith("GitHub-Hookshot/")
    mac = hmac.new(forge.webhook_secret.encode(), hit.body, hashlib.sha256).hexdigest()
    assert h["x-hub-signature-256"] == f"sha256={mac}"
    payload = json.loads(hit.body)
    assert (payload["action"], payload["issue"]["number"]) == ("opened", number)
    assert payload["issue"]["user"]["login"] == world.outsider
    assert payload["sender"]["login"] == world.outsider
    assert payload["installation"]["id"] == world.installation_id
    assert payload["organization"]["login"] == world.org
    assert payload["issue"]["author_association"] == "NONE"
    delivery = forge.deliveries[-1]
    assert (delivery.guid, delivery.status_code, delivery.status) == (
        h["x-github-delivery"],
        200,
        "OK",
    )


def test_app_actions_are_echoed_with_the_bot_as_sender(
    forge: Forge, webhook_sink: WebhookSink, world: World, forge_server: ForgeServer
) -> None:
    number = forge.scenario.open_issue(world.repo, world.outsider, "Lien", "")
    bot_call(forge, world, "POST", f"/repos/{world.repo}/issues/{number}/comments", {"body": "Hi"})
    bot_call(forge, world, "POST", f"/repos/{world.repo}/issues/{number}/labels", {"labels": ["x"]})
    forge.settle()
    echoed = [d for d in forge.deliveries if d.by_bot]
    assert [(d.event, d.action) for d in echoed] == [
        ("issue_comment", "created"),
        ("issues", "labeled"),
    ]
    for d in echoed:
        assert d.payload["sender"] == d.payload["sender"] | {
            "login": "veilleur[bot]",
            "type": "Bot",
        }
        assert d.status_code == 200
    assert echoed[0].payload["comment"]["performed_via_github_app"]["slug"] == "veilleur"
    forge.emit_bot_events = False
    bot_call(forge, world, "POST", f"/repos/{world.repo}/issues/{number}/comments", {"body": "2"})
    forge.settle()
    assert len([d for d in forge.deliveries if d.by_bot]) == 2


def test_without_webhook_url_only_state_changes(forge: Forge, world: World) -> None:
    number = forge.scenario.open_issue(world.repo, world.outsider, "Sans", "", labels=["bug"])
    forge.scenario.label(world.repo, number, world.maintainer, "question", "bug")
    assert forge.scenario.labels_of(world.repo, number) == ["bug", "question"]
    assert [(d.event, d.action, d.status_code) for d in forge.deliveries] == [
        ("issues", "opened", None),  # already carrying its label…
        ("issues", "labeled", None),  # …then labeled, as on GitHub
        ("issues", "labeled", None),  # question; bug was already there: no event
    ]
    assert forge.deliveries[0].payload["issue"]["labels"][0]["name"] == "bug"


def test_every_scenario_payload_matches_the_webhook_schemas(
    forge: Forge, webhook_sink: WebhookSink, world: World, forge_server: ForgeServer
) -> None:
    sc, repo, who = forge.scenario, world.repo, world.maintainer
    issue = sc.open_issue(repo, world.outsider, "Lien cassé", None, labels=["bug"])
    sc.edit_issue(repo, issue, world.outsider, title="Lien cassé (accueil)", body="Voir")
    comment = sc.comment(repo, issue, who, "Merci")
    sc.edit_comment(repo, comment, "Merci !")
    sc.label(repo, issue, who, "needs-triage")
    sc.unlabel(repo, issue, who, "needs-triage")
    sc.assign(repo, issue, who, who)
    sc.unassign(repo, issue, who, who)
    sc.close(repo, issue, who, "not_planned")
    sc.reopen(repo, issue, who)
    pull = sc.open_pull(repo, world.outsider, "Guide", "", {"docs/guide.md": "v2\n"}, draft=True)
    sc.ready_for_review(repo, pull, world.outsider)
    sc.request_review(repo, pull, who, [world.private_member], [world.team])
    sc.review(repo, pull, who, "APPROVED", "")
    sc.push_to_pull(repo, pull, world.outsider, {"docs/more.md": "+\n"})
    sc.label(repo, pull, who, "documentation")
    sc.assign(repo, pull, who, who)
    sc.comment(repo, pull, who, "On fusionne")
    sc.merge(repo, pull, who)
    sc.push_files(repo, "main", who, {".github/veilleur.yml": "sla_days: 3\n"})
    sc.add_member(world.org, "nina", public=True, by=who)
    sc.remove_member(world.org, "nina", by=who)
    sc.add_team_member(world.org, world.team, world.outsider, by=who)
    sc.add_collaborator(repo, "oscar", "write")
    forge.add_repo("mairie/nouveau")
    sc.add_repos_to_installation(world.installation_id, ["mairie/nouveau"])
    forge.add_org("commune")
    forge.add_repo("commune/site")
    sc.install("commune", ["commune/site"])
    bot_call(forge, world, "POST", f"/repos/{repo}/issues", {"title": "Rapport", "labels": ["r"]})
    bot_call(forge, world, "PATCH", f"/repos/{repo}/issues/{issue}", {"state": "closed"})
    bot_call(forge, world, "POST", f"/repos/{repo}/labels", {"name": "veilleur", "color": "ff0000"})
    bot_call(forge, world, "POST", f"/repos/{repo}/issues/{issue}/assignees", {"assignees": [who]})
    forge.settle()
    seen = {(d.event, d.action) for d in forge.deliveries}
    assert len(seen) >= 25 and all(d.status_code == 200 for d in forge.deliveries)
    found = [p for d in forge.deliveries for p in schema_problems(d.event, d.payload)]
    assert not found, "\n".join(found[:30])


def test_schema_check_catches_a_wrong_payload(forge: Forge, world: World) -> None:
    forge.scenario.open_issue(world.repo, world.outsider, "Titre", "")
    payload = json.loads(json.dumps(forge.deliveries[-1].payload))
    assert schema_problems("issues", payload) == []
    payload["issue"]["surprise"] = True
    del payload["sender"]
    found = schema_problems("issues", payload)
    assert any("surprise" in p for p in found) and any("sender" in p for p in found)


def main_files(forge: Forge, world: World) -> dict[str, str]:
    files = forge.files_at(forge.get_repo(world.repo), "main")
    assert files is not None
    return files


def test_push_and_merge_change_files(forge: Forge, world: World) -> None:
    sc = forge.scenario
    sha = sc.push_files(world.repo, "main", world.maintainer, {".github/veilleur.yml": "a: 1\n"})
    push = forge.deliveries[-1].payload
    assert (push["ref"], push["after"], push["head_commit"]["modified"]) == (
        "refs/heads/main",
        sha,
        [".github/veilleur.yml"],
    )
    assert main_files(forge, world)[".github/veilleur.yml"] == "a: 1\n"
    number = sc.open_pull(world.repo, world.outsider, "Doc", "", {"docs/guide.md": "b\n"})
    sc.merge(world.repo, number, world.maintainer)
    closed, merged_push = forge.deliveries[-2:]
    assert closed.payload["pull_request"]["merged"] is True
    assert merged_push.payload["before"] == sha
    assert main_files(forge, world)["docs/guide.md"] == "b\n"


def test_hook_deliveries_api(
    forge: Forge, webhook_sink: WebhookSink, world: World, forge_settings: Settings
) -> None:
    for title in ("un", "deux", "trois"):
        forge.scenario.open_issue(world.repo, world.outsider, title, "")
    webhook_sink.status = 500
    forge.scenario.comment(world.repo, 1, world.outsider, "échoue")
    assert forge.deliveries[-1].status == "Invalid HTTP Response: 500"
    client = make_app_client(forge_settings)
    first = client.request("GET", "/app/hook/deliveries", params={"per_page": 3})
    items = first.json()
    assert [i["action"] for i in items] == ["created", "opened", "opened"]  # newest first
    assert items[0]["status_code"] == 500 and items[0]["event"] == "issue_comment"
    assert items[0]["installation_id"] == world.installation_id and items[0]["redelivery"] is False
    nxt = httpx.URL(first.headers["link"].split(">")[0].lstrip("<"))
    second = client.request("GET", "/app/hook/deliveries", params=dict(nxt.params))
    assert [i["action"] for i in second.json()] == ["opened"] and "link" not in second.headers
    webhook_sink.status = 200
    redo = client.request("POST", f"/app/hook/deliveries/{items[0]['id']}/attempts")
    assert redo.status_code == 202
    forge.settle()
    again = forge.deliveries[-1]
    assert (again.guid, again.redelivery, again.status_code) == (items[0]["guid"], True, 200)
    assert webhook_sink.received[-1].body == webhook_sink.received[-2].body
