"""The scale-out queue's pieces: cron lines, retry decisions, the schema at `db upgrade`, the
job stored in the delivery's transaction, orphans, and periodic jobs once per period."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from procrastinate.jobs import Job
from procrastinate.periodic import PeriodicDeferrer

from bot.cli import main
from bot.clock import SystemClock
from bot.intake.writer import DeliveryRow, DeliveryWriter
from bot.queue.scaleout.queue import TASK_DELIVERY, conninfo, intake_hook, item_lock, make_app
from bot.queue.scaleout.tasks import (
    DeliveryBusy,
    DeliveryRetry,
    Retry,
    Runtime,
    cron_of,
    enqueue_orphans,
    register,
)
from bot.storage.db import make_engine
from tests.conftest import make_settings
from tests.scaleout_support import q


def test_cron_lines_of_the_jobs_triggers() -> None:
    assert cron_of({"trigger": "interval", "minutes": 15}) == "*/15 * * * *"
    assert cron_of({"trigger": "interval", "seconds": 5}) == "* * * * * */5"
    assert cron_of({"trigger": "interval", "hours": 6}) == "0 */6 * * *"
    assert cron_of({"trigger": "cron", "hour": 2, "minute": 30}) == "30 2 * * *"
    assert cron_of({"trigger": "cron", "minute": 7}) == "7 * * * *"
    assert cron_of({"trigger": "cron", "day_of_week": "mon", "hour": 8}) == "0 8 * * mon"
    assert cron_of({"trigger": "cron", "day_of_week": 0, "hour": 8}) == "0 8 * * 1"  # Monday
    with pytest.raises(ValueError):
        cron_of({"trigger": "date"})


def test_retry_decisions() -> None:
    job = Job(id=1, queue="q", lock=None, queueing_lock=None, task_name=TASK_DELIVERY)
    at = datetime(2030, 1, 1, tzinfo=UTC)
    assert Retry().get_retry_decision(exception=DeliveryRetry(at), job=job).retry_at == at  # type: ignore[union-attr]
    assert Retry().get_retry_decision(exception=DeliveryBusy(), job=job) is not None
    assert Retry().get_retry_decision(exception=OSError(), job=job) is not None
    assert Retry().get_retry_decision(exception=OSError(), job=job.evolve(attempts=60)) is None
    assert item_lock("a/b", 3) == "a/b#3" and item_lock("a/b", None) is None
    assert conninfo("postgresql+psycopg://u@h:5/d?options=-csearch_path%3Dx") == (
        "postgresql://u@h:5/d?options=-csearch_path%3Dx"
    )


def _rows(n: int, repo: str = "ville/site") -> list[DeliveryRow]:
    now = datetime.now(UTC) - timedelta(hours=1)
    return [
        DeliveryRow(str(uuid.uuid4()), "issues", "edited", 1, repo, i % 2 or None, now, b"{}")
        for i in range(n)
    ]


@pytest.mark.postgres
def test_db_upgrade_applies_the_queue_schema_once(pg_url: str, capsys: Any) -> None:
    assert main(["--database-url", pg_url, "db", "upgrade"]) == 0
    assert "queue schema (procrastinate) applied" in capsys.readouterr().out
    assert main(["--database-url", pg_url, "db", "upgrade"]) == 0
    assert "queue schema" not in capsys.readouterr().out
    assert q(pg_url, "SELECT to_regclass('veilleur_procrastinate_jobs_lock')")[0][0]


@pytest.mark.postgres
def test_each_delivery_is_stored_with_its_job_or_not_at_all(pg_url: str) -> None:
    main(["--database-url", pg_url, "db", "upgrade"])
    engine = make_engine(pg_url)
    writer = DeliveryWriter(engine, in_transaction=intake_hook(pg_url))
    rows = _rows(5)
    assert writer.group.write(rows) == ["new"] * 5
    assert writer.group.write(rows[:2]) == ["pending"] * 2  # no second job for a known GUID
    jobs = q(pg_url, "SELECT args->>'guid', lock FROM procrastinate_jobs ORDER BY id")
    assert jobs == [(r.guid, item_lock(r.repo_full_name, r.item_number)) for r in rows]

    defer = intake_hook(pg_url)

    def fails_after_deferring(conn: Any, rows: list[DeliveryRow]) -> None:
        defer(conn, rows)
        raise RuntimeError("crash before commit")

    broken = DeliveryWriter(engine, in_transaction=fails_after_deferring)
    with pytest.raises(RuntimeError):
        broken.group.write(_rows(3))
    assert q(pg_url, "SELECT count(*) FROM deliveries")[0][0] == 5
    assert q(pg_url, "SELECT count(*) FROM procrastinate_jobs")[0][0] == 5
    engine.dispose()


@pytest.mark.postgres
async def test_orphans_and_periodic_jobs_once_per_period(pg_url: str) -> None:
    main(["--database-url", pg_url, "db", "upgrade"])
    engine = make_engine(pg_url)
    DeliveryWriter(engine).group.write(_rows(4))  # stored without jobs (embedded mode, say)
    settings = make_settings(pg_url)
    ran: list[int] = []

    async def job(dispatcher: Any, clock: Any) -> None:
        ran.append(1)

    jobs = [("tick", job, {"trigger": "interval", "minutes": 5})]
    apps = [make_app(pg_url) for _ in range(2)]  # two worker processes
    for app in apps:
        register(app, jobs, "* * * * * */15")
    rt = Runtime(settings, engine, SystemClock(), runtime=None)
    async with apps[0].open_async(), apps[1].open_async():
        context = SimpleNamespace(app=apps[0], additional_context={"veilleur": rt})
        assert await enqueue_orphans(context) == 4  # type: ignore[arg-type]
        assert await enqueue_orphans(context) == 0  # type: ignore[arg-type]
        assert {r[0] for r in q(pg_url, "SELECT priority FROM procrastinate_jobs")} == {1}

        stamp = 1_900_000_200
        for app in apps:  # both workers' deferrers reach the same period
            tasks = list(app.periodic_registry.periodic_tasks.values())
            await PeriodicDeferrer(app.periodic_registry).defer_jobs([(t, stamp) for t in tasks])
        rows = q(pg_url, "SELECT task_name FROM procrastinate_jobs WHERE priority = 0")
        assert sorted(r[0] for r in rows) == sorted(
            [
                "veilleur.job.tick",
                "veilleur.queue.reclaim-stalled",
                "veilleur.queue.enqueue-orphans",
            ]
        )
        tick = apps[0].tasks["veilleur.job.tick"]
        for _ in range(2):  # the same period run twice (a retry): the job's key skips it
            await tick.func(SimpleNamespace(additional_context={"veilleur": rt}), timestamp=stamp)
        assert ran == [1]
    engine.dispose()


def test_the_stalled_job_reclaim_holds_no_lock_a_dead_worker_could_keep() -> None:
    """A reclaim job running on a worker that is SIGKILLed stays "doing"; with a job lock it
    would block every later reclaim, and so the dead worker's deliveries, for good."""
    app = make_app("postgresql+psycopg://u@127.0.0.1:5432/test")  # never opened
    register(app, [], "* * * * * */15")
    reclaim = app.tasks["veilleur.queue.reclaim-stalled"]
    assert reclaim.lock is None
    assert reclaim.queueing_lock == "veilleur.queue.reclaim-stalled"  # never piles up
