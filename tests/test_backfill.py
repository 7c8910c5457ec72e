"""History import over the simulated forge (real HTTP, real GraphQL queries).

The import must record exactly what the webhooks record (same items, same natural keys, same
classes), resume where it stopped, wait for the rate limit instead of failing, honour
`--since`, and cost at most 15 requests per 1,000 items with their comments and reviews.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from githubkit.exception import RequestFailed
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from bot.backfill.run import Backfill, Options
from bot.backfill.tasks import nightly_refresh, tasks_of
from bot.clock import FrozenClock
from bot.github.client import GitHubAPI, make_app_client
from bot.runtime import build_services
from bot.settings import Settings
from bot.sim import Forge
from bot.sim.graphql import limits
from bot.sim.history import seed_history
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade
from bot.storage.models import BackfillCursor, Item, TimelineEntry, TimelineKind
from tests.harness import City, Harness
from tests.simforge_fixtures import World, seed_world

K = TimelineKind
NOT_IMPORTED = {K.EDITED, K.COMMENT_EDITED, K.SNOOZED, K.WAITING_ON, K.TRANSFERRED, K.DELETED}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'import.db'}"
    upgrade(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


@pytest.fixture
def world(forge: Forge) -> World:
    return seed_world(forge)


def api_for(settings: Settings, installation_id: int) -> GitHubAPI:
    return GitHubAPI(make_app_client(settings), installation_id)


Snapshot = tuple[dict[int, tuple[Any, ...]], dict[tuple[int, str], tuple[Any, ...]]]


def snapshot(engine: Engine, repo: str) -> Snapshot:
    """Items and timeline entries (what the import can know) of a repository's record."""
    with Session(engine) as s:
        items = {
            i.number: (
                i.kind, i.title, i.author_login, i.author_type, i.author_class, i.state, i.draft,
                i.created_at, i.updated_at, i.closed_at, i.merged_at, i.closed_by,
                tuple(i.labels), tuple(i.assignees), i.author_company, i.author_email_domain,
            )
            for i in s.exec(select(Item).where(Item.repo_full_name == repo))
        }  # fmt: skip
        entries = {
            (e.number, e.source_key): (
                e.kind, e.actor_login, e.actor_type, e.actor_class, e.occurred_at,
                e.detail.get("asks_author"), e.detail.get("state"), e.detail.get("body"),
            )
            for e in s.exec(select(TimelineEntry).where(TimelineEntry.repo_full_name == repo))
            if e.kind not in NOT_IMPORTED
        }  # fmt: skip
    return items, entries


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


def settle_imports(h: Harness) -> None:
    tasks = tasks_of(h.worker.runtime.services)
    h.worker.call(tasks.wait(), timeout=60)
    assert not [r for r in tasks.results if isinstance(r, BaseException)]


def graphql_requests(forge: Forge) -> list[Any]:
    return [r for r in forge.requests if r.path == "/graphql"]


# -- the import records what the webhooks record ------------------------------------------------
def test_import_equals_what_webhooks_recorded(
    harness_factory: Any, city: City, forge: Forge, forge_clock: FrozenClock, engine: Engine,
    forge_settings: Settings,
) -> None:  # fmt: skip
    h = harness_factory()
    sc = forge.scenario
    inst = sc.install(city.org)
    h.wait()
    settle_imports(h)

    repo, outsider, member = city.repo, city.citizen_fr, city.maintainer
    body = "Bonjour, la carte ne s'affiche pas sur mobile. Merci."
    n = sc.open_issue(repo, outsider, "La carte ne s'affiche pas", body, labels=["bug"])
    p = sc.open_pull(
        repo, city.citizen_en, "Fix the map", "Fixes the map on mobile.",
        files={"docs/guide.md": "Guide v2\n"}, draft=True,
    )  # fmt: skip
    history: list[Callable[[], object]] = [
        lambda: sc.comment(repo, n, member, "Pouvez-vous préciser le navigateur ?"),
        lambda: sc.comment(repo, n, outsider, "Firefox 120, sur Android."),
        lambda: sc.label(repo, n, member, "enhancement"),
        lambda: sc.unlabel(repo, n, member, "bug"),
        lambda: sc.assign(repo, n, member, member),
        lambda: sc.comment(repo, n, city.partner_user, "Même souci à Lyon."),
        lambda: sc.close(repo, n, member),
        lambda: sc.reopen(repo, n, outsider),
        lambda: sc.push_to_pull(repo, p, city.citizen_en),
        lambda: sc.ready_for_review(repo, p, city.citizen_en),
        lambda: sc.request_review(repo, p, city.citizen_en, [city.second_maintainer]),
        lambda: sc.review(repo, p, city.second_maintainer, "CHANGES_REQUESTED", "Une coquille."),
        lambda: sc.push_to_pull(repo, p, city.citizen_en),
        lambda: sc.review(repo, p, city.second_maintainer, "APPROVED", "Merci !"),
        lambda: sc.merge(repo, p, member),
        lambda: sc.comment(
            repo, sc.open_issue(repo, city.private_member, "Refonte", "Interne."),
            city.supplier_user, "Je m'en occupe.",
        ),
    ]  # fmt: skip
    for change in history:
        forge_clock.advance(timedelta(minutes=7))
        change()
    h.wait()
    settle_imports(h)
    assert h.failures() == []
    recorded = snapshot(h.engine, city.repo)
    assert len(recorded[0]) == 3 and len(recorded[1]) > 20

    # A fresh record, filled by the import alone, equals the one the webhooks built.
    services = build_services(h.settings, engine, forge_clock)
    stats = asyncio.run(
        Backfill(api_for(forge_settings, inst), engine, forge_clock, services=services).run_org(
            city.org
        )
    )
    assert stats.failed == [] and stats.items == 3
    imported = snapshot(engine, city.repo)
    for number, fields in recorded[0].items():
        assert imported[0].get(number) == fields, number
    assert set(imported[1]) == set(recorded[1])
    assert imported[1] == recorded[1]
    classes = {v[1]: v[3] for v in imported[1].values()}
    assert (
        classes[city.partner_user] == "partner"
        and classes[city.supplier_user] == "internal_partner"
    )
    assert classes[city.private_member] == "member" and classes[city.citizen_en] == "external"
    assert classes[forge.bot_login] == "bot" and classes[city.second_maintainer] == "maintainer"
    companies = {v[2]: v[14] for v in imported[0].values()}
    assert companies == {
        city.citizen_fr: "Citoyenne",
        city.citizen_en: None,
        city.private_member: None,
    }

    # Importing over the webhook-built record adds nothing.
    before = (count(h.engine, Item), count(h.engine, TimelineEntry))
    runtime = h.worker.runtime
    again = Backfill(runtime.api_for(inst), h.engine, forge_clock, services=runtime.services)
    stats = h.worker.call(again.run_org(city.org), timeout=60)
    assert (stats.items_new, stats.entries_new) == (0, 0)
    assert (count(h.engine, Item), count(h.engine, TimelineEntry)) == before


# -- resumable ----------------------------------------------------------------------------------
async def test_interrupted_import_resumes_from_its_cursor(
    forge: Forge, world: World, engine: Engine, forge_settings: Settings
) -> None:
    seeded = seed_history(forge, world.repo, issues=70, pulls=30, comments=2)
    api = api_for(forge_settings, world.installation_id)
    options = Options(page_size=25)

    def fail_next(_: str) -> None:
        forge.inject("POST", "/graphql$", status=400)

    first = Backfill(api, engine, forge.clock, options=options, after_page=fail_next)
    with pytest.raises(RequestFailed):
        await first.run_org(world.org, [world.repo])
    with Session(engine) as s:
        issues = s.get(BackfillCursor, (world.repo, "issues"))
        pulls = s.get(BackfillCursor, (world.repo, "pulls"))
    assert (
        issues is not None and issues.items == 25 and issues.cursor and issues.finished_at is None
    )
    assert pulls is not None and pulls.items == 25 and pulls.cursor
    assert count(engine, Item) == 50

    sent = len(forge.requests)
    second = Backfill(api, engine, forge.clock, options=options)
    stats = await second.run_org(world.org, [world.repo])
    resumed = [r for r in forge.requests[sent:] if "VeilleurBackfill" in str(r.request_json)]
    assert resumed[0].request_json["variables"]["issuesAfter"] == issues.cursor
    assert resumed[0].request_json["variables"]["pullsAfter"] == pulls.cursor
    assert stats.items == seeded.items - 50 and stats.items_new == seeded.items - 50
    assert count(engine, Item) == seeded.items
    with Session(engine) as s:
        keys = s.exec(select(TimelineEntry.number, TimelineEntry.source_key)).all()
        comments = s.exec(select(func.count()).where(TimelineEntry.kind == K.COMMENTED)).one()
        mark = s.get(BackfillCursor, (world.repo, "refresh"))
    assert len(keys) == len(set(keys)) and comments == seeded.comments
    assert mark is not None and mark.finished_at is not None and mark.since is None


# -- rate limits --------------------------------------------------------------------------------
async def test_waits_for_the_rate_limit_reset_instead_of_failing(
    forge: Forge, world: World, engine: Engine, forge_settings: Settings, forge_clock: FrozenClock
) -> None:
    seed_history(forge, world.repo, issues=10, pulls=5)
    reset = forge_clock.now() + timedelta(minutes=40)
    limits(forge).exhaust(reset, remaining=1)  # the first query (people) spends the last point
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        forge_clock.advance(timedelta(seconds=seconds))

    backfill = Backfill(
        api_for(forge_settings, world.installation_id), engine, forge_clock, sleep=fake_sleep
    )
    stats = await backfill.run_org(world.org, [world.repo])
    assert stats.items == 15 and stats.failed == []
    assert slept == [pytest.approx(40 * 60 + 1)]
    assert forge_clock.now() >= reset
    refused = [r for r in graphql_requests(forge) if "RATE_LIMITED" in str(r.response_json)]
    assert refused == []  # it waited before asking, not after a refusal


async def test_refusals_wait_for_reset_or_retry_after(
    forge: Forge, world: World, engine: Engine, forge_settings: Settings, forge_clock: FrozenClock
) -> None:
    seed_history(forge, world.repo, issues=3, pulls=2)
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        forge_clock.advance(timedelta(seconds=seconds))

    forge.inject("POST", "/graphql$", status=403, retry_after=120)  # a secondary limit
    api = api_for(forge_settings, world.installation_id)
    stats = await Backfill(api, engine, forge_clock, sleep=fake_sleep).run_org(
        world.org, [world.repo]
    )
    assert stats.items == 5 and slept == [120.0]

    # A primary GraphQL refusal (no budget at all): wait until x-ratelimit-reset.
    limits(forge).exhaust(forge_clock.now() + timedelta(minutes=10), remaining=0)
    slept.clear()
    await Backfill(
        api, engine, forge_clock, sleep=fake_sleep, options=Options(restart=True)
    ).run_org(world.org, [world.repo])
    assert slept == [pytest.approx(601)]


# -- --since, the CLI and the progress bar -----------------------------------------------------
def test_cli_since_imports_only_items_updated_since(
    forge: Forge, world: World, forge_settings: Settings, forge_clock: FrozenClock, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from bot.cli import main

    seed_history(forge, world.repo, issues=30, pulls=30, comments=1)
    forge_clock.advance(timedelta(days=30))
    cut = forge_clock.now()
    forge_clock.advance(timedelta(hours=1))
    recent = seed_history(forge, world.repo, issues=4, pulls=3, comments=1)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for name, value in {
        "VEILLEUR_APP_ID": str(forge.the_app.id),
        "VEILLEUR_PRIVATE_KEY": forge.private_key_pem,
        "VEILLEUR_GITHUB_API_URL": forge_settings.github_api_url,
        "VEILLEUR_WEBHOOK_SECRET": forge.webhook_secret,
    }.items():
        monkeypatch.setenv(name, value)
    sent = len(graphql_requests(forge))
    code = main(["--database-url", url, "backfill", "--org", world.org, "--since", cut.isoformat()])
    out = capsys.readouterr()
    assert code == 0, out
    engine = make_engine(url)
    with Session(engine) as s:
        numbers = set(s.exec(select(Item.number).where(Item.repo_full_name == world.repo)).all())
        assert all(i.updated_at >= cut for i in s.exec(select(Item)))
    engine.dispose()
    assert len(numbers) == recent.items
    assert "7 items" in out.out and "per 1,000 items" in out.out and "items/s" in out.out
    # pull requests newest first stop at the first older one: no page of old ones was read
    assert len(graphql_requests(forge)) - sent <= 4


# -- cost -----------------------------------------------------------------------------------------
async def test_at_most_15_requests_per_1000_items(
    forge: Forge, world: World, engine: Engine, forge_settings: Settings, forge_clock: FrozenClock
) -> None:
    forge.add_repo("mairie/voirie")
    seeded = [
        seed_history(forge, world.repo, issues=300, pulls=200, comments=3),
        seed_history(forge, "mairie/voirie", issues=250, pulls=250, comments=3),
    ]
    items = sum(s.items for s in seeded)
    services = build_services(forge_settings.model_copy(), engine, forge_clock)
    start = len(forge.requests)
    api = api_for(forge_settings, world.installation_id)
    stats = await Backfill(api, engine, forge_clock, services=services).run_org(
        world.org, [world.repo, "mairie/voirie"]
    )
    made = forge.requests[start:]
    assert stats.items == items == 1000
    with Session(engine) as s:
        assert s.exec(select(func.count()).where(TimelineEntry.kind == K.COMMENTED)).one() == 3000
        assert s.exec(select(func.count()).where(TimelineEntry.kind == K.REVIEWED)).one() == 450
    per_1000 = 1000 * len(made) / items
    assert per_1000 <= 15, [f"{r.method} {r.path}" for r in made]


async def test_long_timelines_are_followed_page_by_page(
    forge: Forge, world: World, engine: Engine, forge_settings: Settings
) -> None:
    seed_history(forge, world.repo, issues=3, pulls=2, comments=7)
    api = api_for(forge_settings, world.installation_id)
    stats = await Backfill(api, engine, forge.clock, options=Options(timeline_page=3)).run_org(
        world.org, [world.repo]
    )
    assert stats.items == 5
    with Session(engine) as s:
        assert s.exec(select(func.count()).where(TimelineEntry.kind == K.COMMENTED)).one() == 35
    follow_ups = [r for r in graphql_requests(forge) if "VeilleurTimeline" in str(r.request_json)]
    assert follow_ups  # only items whose timeline exceeds a page


# -- automatic: installation and nightly refresh --------------------------------------------------
def test_installation_created_imports_the_history(
    harness_factory: Any, city: City, forge: Forge, forge_clock: FrozenClock
) -> None:
    seeded = seed_history(
        forge, city.repo, issues=12, pulls=8, authors=[city.citizen_en], team=[city.maintainer]
    )
    h = harness_factory()
    forge.scenario.install(city.org, [city.repo])
    h.wait()
    settle_imports(h)
    with Session(h.engine) as s:
        assert (
            len(s.exec(select(Item).where(Item.repo_full_name == city.repo)).all()) == seeded.items
        )
        comments = s.exec(select(func.count()).where(TimelineEntry.kind == K.COMMENTED)).one()
        classes = set(s.exec(select(Item.author_class)).all())
    assert comments == seeded.comments and classes == {"external"}

    # repositories added later are imported too
    seed_history(forge, city.ospo_repo, issues=4, pulls=0, authors=[city.citizen_nl])
    inst = next(iter(forge.installations))
    forge.scenario.add_repos_to_installation(inst, [city.ospo_repo])
    h.wait()
    settle_imports(h)
    with Session(h.engine) as s:
        assert len(s.exec(select(Item).where(Item.repo_full_name == city.ospo_repo)).all()) == 4

    # the nightly refresh picks up what happened without webhooks (e.g. while down)
    forge_clock.advance(timedelta(days=1))
    forge.webhook_url = None
    seed_history(forge, city.repo, issues=2, pulls=1, authors=[city.citizen_fr])
    h.worker.call(nightly_refresh(h.worker.runtime, forge_clock), timeout=60)
    with Session(h.engine) as s:
        assert (
            len(s.exec(select(Item).where(Item.repo_full_name == city.repo)).all())
            == seeded.items + 3
        )
