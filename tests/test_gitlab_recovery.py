"""Missed GitLab deliveries (bot/gitlab/recovery.py) against the simulated GitLab's webhook
event log (bot/sim/gitlab/hook_api.py): failed deliveries of the last three days resent, at most
five per webhook and run, three tries each, only Veilleur's webhooks, group webhooks with the
Owner role; the log's shape checked against GitLab's documented example."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, delete

from bot.gitlab.recovery import (
    MAX_PER_HOOK,
    MAX_TRIES,
    GitLabRecoveryReport,
    failed_events,
    recover,
)
from bot.periodic import JOBS, gitlab_redelivery_check
from bot.sim.gitlab import items as gl
from bot.sim.gitlab.world import OWNER, WebHook
from bot.storage.models import Delivery
from tests.conftest import make_settings
from tests.forge_sites import PROJECT, GitLabSite
from tests.gitlab_fixtures import shared
from tests.harness import City

C = City()
ON_GITLAB = pytest.mark.parametrize("site", ["gitlab"], indirect=True)
TEXT = "De kaart laadt niet op mijn telefoon sinds de laatste update. Kunt u kijken?"


def veilleur_hook(site: GitLabSite, where: str = PROJECT) -> WebHook:
    return site.world.add_hook(where, str(site.world.webhook_url))


def run(site: GitLabSite, **kw: Any) -> GitLabRecoveryReport:
    h = site.harness
    forges = h.worker.runtime.services["forges"]
    report = h.worker.call(recover(forges, h.engine, h.clock.now(), **kw), timeout=30)
    site._done()
    return report


def resends(site: GitLabSite) -> list[tuple[str, str]]:
    return [r for r in site.world.requests if r[0] == "POST" and r[1].endswith("/resend")]


def open_while_down(
    site: GitLabSite, n: int, outage: str | int = "internal error", first: int = 0
) -> None:
    """`n` issues whose hooks fail (each by a different person: each one's first, welcomed)."""
    people = [C.citizen_nl, C.citizen_en, C.citizen_fr, C.supplier_user, C.partner_user]
    site.world.outage = outage
    for i in range(first, first + n):
        gl.open_issue(site.world, PROJECT, people[i % len(people)], f"Kaart {i}", TEXT)
    site.world.outage = None


def welcomes(site: GitLabSite, iid: int) -> int:
    notes = site.world.projects[PROJECT].notes.get(("issues", iid), [])
    return len([n for n in notes if "veilleur:welcome" in n["body"]])


@ON_GITLAB
def test_failed_deliveries_are_resent_once_and_processed(site: GitLabSite) -> None:
    veilleur_hook(site)
    site.open_issue(C.second_maintainer, "Carte", TEXT)  # delivered: the project is known
    open_while_down(site, 1)  # older than three days when the check runs: left alone
    site.harness.clock.advance(timedelta(days=3, hours=1))
    open_while_down(site, 2, first=1)
    report = run(site)
    assert [f.trigger for f in report.resent] == ["issue_hooks", "issue_hooks"]
    assert len(resends(site)) == 2
    assert site.harness.failures() == []
    assert [welcomes(site, iid) for iid in (2, 3, 4)] == [0, 1, 1]
    # stored now: nothing more to ask, on this run or the next
    site.harness.clock.advance(timedelta(minutes=10))
    assert run(site).resent == [] and len(resends(site)) == 2
    assert len(site.harness.action_keys("gitlab-resend:")) == 2


@ON_GITLAB
def test_at_most_five_resends_per_webhook_and_run(site: GitLabSite) -> None:
    veilleur_hook(site)
    site.open_issue(C.second_maintainer, "Carte", TEXT)
    open_while_down(site, MAX_PER_HOOK + 2, outage=503)
    first = run(site)
    site.harness.clock.advance(timedelta(minutes=10))
    second = run(site)
    assert (len(first.resent), len(second.resent)) == (MAX_PER_HOOK, 2)
    assert first.errors == second.errors == []  # GitLab's five resends a minute never passed
    assert [f.event_id for f in first.resent] == sorted(f.event_id for f in first.resent)
    assert site.harness.failures() == []


@ON_GITLAB
def test_a_delivery_still_failing_is_tried_three_times(site: GitLabSite) -> None:
    veilleur_hook(site)
    site.open_issue(C.second_maintainer, "Carte", TEXT)
    open_while_down(site, 1)
    site.world.outage = 502  # a proxy in front of Veilleur still answers 502
    reports = []
    for _ in range(MAX_TRIES + 2):
        reports.append(run(site))
        site.harness.clock.advance(timedelta(minutes=10))
    assert [len(r.resent) for r in reports] == [1] * MAX_TRIES + [0, 0]
    assert [r.exhausted for r in reports] == [0] * MAX_TRIES + [1, 1]
    assert len(resends(site)) == MAX_TRIES


@ON_GITLAB
def test_a_resend_refused_by_gitlab_is_asked_again_next_run(site: GitLabSite) -> None:
    hook = veilleur_hook(site)
    site.open_issue(C.second_maintainer, "Carte", TEXT)
    open_while_down(site, 1)
    now = site.harness.clock.now().timestamp()
    hook.resends[:] = [now] * 5  # GitLab's five resends a minute already spent: 429
    first = run(site)
    assert first.resent == [] and first.errors
    assert site.harness.action_keys("gitlab-resend:") == []  # the try was given back
    site.harness.clock.advance(timedelta(minutes=10))
    assert len(run(site).resent) == 1
    assert welcomes(site, 2) == 1


@ON_GITLAB
def test_a_delivery_gitlab_saw_answered_is_not_resent(site: GitLabSite) -> None:
    veilleur_hook(site)
    site.open_issue(C.second_maintainer, "Carte", TEXT)
    with Session(site.harness.engine) as s:  # lost after its 2xx: GitLab cannot tell
        s.exec(delete(Delivery))
        s.commit()
    report = run(site)
    assert report.hooks == 1 and report.events_listed >= 1 and report.resent == []
    assert resends(site) == []


@ON_GITLAB
def test_a_delivery_stored_but_answered_too_late_is_not_resent(site: GitLabSite) -> None:
    veilleur_hook(site)
    site.open_issue(C.second_maintainer, "Carte", TEXT)
    open_while_down(site, 1, outage="timeout")  # GitLab logged a failure; Veilleur has it
    site._done()
    assert welcomes(site, 2) == 1
    report = run(site)
    assert report.resent == [] and resends(site) == []


@ON_GITLAB
def test_a_dry_run_resends_nothing(site: GitLabSite) -> None:
    veilleur_hook(site)
    site.open_issue(C.second_maintainer, "Carte", TEXT)
    open_while_down(site, 2)
    report = run(site, dry_run=True)
    assert report.resent == [] and resends(site) == []
    assert site.harness.action_keys("gitlab-resend:") == []
    assert len(run(site).resent) == 2  # the real run still has them all


@ON_GITLAB
def test_only_veilleurs_webhooks_are_read(site: GitLabSite) -> None:
    veilleur_hook(site)
    other = site.world.add_hook(PROJECT, "http://127.0.0.1:9/ci/trigger")  # nothing listens
    site.open_issue(C.second_maintainer, "Carte", TEXT)
    assert {log["response_status"] for log in other.logs} == {"internal error"}
    report = run(site)
    assert report.hooks == 1 and report.resent == []
    assert not any(f"/hooks/{other.id}/" in path for _, path in site.world.requests)


@ON_GITLAB
def test_group_webhooks_are_read_with_the_owner_role(site: GitLabSite) -> None:
    veilleur_hook(site, C.org)
    site.open_issue(C.second_maintainer, "Carte", TEXT)
    open_while_down(site, 1)
    maintainer = run(site)  # the bot is Maintainer of the group: its webhooks are hidden
    assert maintainer.hooks == 0 and maintainer.errors == [] and maintainer.resent == []
    site.world.add_member(C.org, site.world.bot["username"], OWNER)
    owner = run(site)
    assert owner.hooks == 1 and len(owner.resent) == 1
    assert welcomes(site, 2) == 1


def test_failed_events_is_pure() -> None:
    since = datetime(2025, 3, 1, tzinfo=UTC)

    def event(i: int, key: str, status: str, kind: str = "issue", day: int = 2) -> dict[str, Any]:
        return {
            "id": i,
            "trigger": f"{kind}_hooks",
            "request_headers": {"Idempotency-Key": key, "X-Gitlab-Event-UUID": f"u{i}"},
            "request_data": {"object_kind": kind},
            "response_status": status,
            "created_at": f"2025-03-0{day}T10:00:00.000Z",
        }

    events = [
        event(9, "a", "internal error"),
        event(8, "b", "503"),
        event(7, "b", "internal error"),
        event(6, "c", "500"),
        event(5, "c", "202"),  # answered once: GitLab saw it through
        event(4, "d", "404"),
        event(3, "e", "500", kind="pipeline"),  # a kind Veilleur does not store
        event(2, "f", "500", day=1),  # (at `since`: kept)
        event(1, "g", "500"),
    ]
    events.append(event(0, "h", "500") | {"created_at": "2025-02-27T10:00:00Z"})  # too old
    # before GitLab 17.4: no Idempotency-Key, the event UUID is the key (as at intake)
    events.append(event(10, "", "500") | {"request_headers": {"X-Gitlab-Event-UUID": "u10"}})
    events.append(event(11, "", "500") | {"request_headers": {"X-Gitlab-Event-UUID": "u11"}})
    found = failed_events(events, known={"gitlab:g", "gitlab:u11"}, since=since)
    assert [(f.key, f.event_id) for f in found] == [
        ("f", 2), ("d", 4), ("b", 8), ("a", 9), ("u10", 10)
    ]  # fmt: skip


def test_the_event_log_has_gitlabs_shape(gitlab_world: Any, gitlab_server: Any) -> None:
    """Fields, their types and the request headers, as in GitLab's documented event; the
    resend answer, the status filter, the resend limit and the roles, as documented."""
    example = json.loads((shared() / "api-examples/gitlab-docs/group-hook-event.json").read_text())
    world = gitlab_world
    world.add_user("ana")
    world.add_group("city")
    world.add_project("city/app")
    world.add_member("city", world.bot["username"], OWNER)
    dead = "http://127.0.0.1:9/webhooks/gitlab"
    hook = world.add_hook("city", dead)
    for _ in range(6):
        gl.open_issue(world, "city/app", "ana", "Map", "It does not load.")
    api = httpx.Client(
        base_url=f"{gitlab_server.url}/api/v4", headers={"PRIVATE-TOKEN": world.api_token}
    )
    base = f"/groups/city/hooks/{hook.id}"
    listed = api.get(f"{base}/events", params={"per_page": 2})
    assert listed.status_code == 200 and listed.headers["x-next-page"] == "2"
    logged = listed.json()[0]
    assert set(logged) - set(example) == {"created_at"} and set(example) <= set(logged)
    for name, value in example.items():
        assert type(logged[name]) is type(value), name
    assert set(logged["request_headers"]) == set(example["request_headers"])
    assert logged["request_headers"]["X-Gitlab-Token"] == "[REDACTED]"
    assert logged["response_status"] == "internal error"
    assert api.get(f"{base}/events", params={"status": "server_failure"}).json() == []
    assert [h["id"] for h in api.get("/groups/city/hooks").json()] == [hook.id]
    first = logged["id"]
    answers = [api.post(f"{base}/events/{first}/resend") for _ in range(6)]
    assert [a.status_code for a in answers] == [201] * 5 + [429]
    assert answers[0].json() == {"response_status": "internal error"}
    keys = {log["request_headers"]["Idempotency-Key"] for log in hook.logs[-5:]}
    assert keys == {logged["request_headers"]["Idempotency-Key"]}  # same key on resends
    hook.url = "http://127.0.0.1:9/elsewhere"
    world.clock.advance(timedelta(minutes=2))
    assert api.post(f"{base}/events/{first}/resend").status_code == 422
    world.add_member("city", world.bot["username"], 40)  # Maintainer: group hooks hidden
    assert api.get("/groups/city/hooks").status_code == 403
    assert api.get("/projects/city%2Fapp/hooks").json() == []


def test_the_check_runs_every_ten_minutes_and_only_with_gitlab() -> None:
    jobs = {job_id: (func, trigger) for job_id, func, trigger in JOBS(make_settings("sqlite://"))}
    func, trigger = jobs["gitlab-redelivery-check"]
    assert func is gitlab_redelivery_check
    assert trigger == {"trigger": "interval", "minutes": 10}

    class Runtime:
        services: dict[str, Any] = {"forges": None}

    import asyncio

    asyncio.run(gitlab_redelivery_check(Runtime(), None))
