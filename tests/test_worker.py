"""Processing: order of receipt, per-handler error boundaries, retries with backoff, dead letters."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from sqlmodel import Session, select

from bot.cli import main as cli_main
from bot.clock import FrozenClock
from bot.dispatch.context import CommandError, Context, Event, UserError
from bot.dispatch.dispatcher import Dispatcher
from bot.dispatch.registry import build
from bot.intake.endpoint import row_from_payload
from bot.intake.writer import DeliveryWriter
from bot.queue import deliveries
from bot.runtime import Runtime
from bot.storage import payloads
from bot.storage.db import make_engine
from bot.storage.models import ActionLog, Delivery, DeliveryStatus
from tests.conftest import make_settings

T0 = datetime(2026, 7, 10, 14, 0, tzinfo=UTC)


class Recorder:
    """A handler module stand-in that records calls and fails on demand."""

    def __init__(self, name: str, fail_times: int = 0, exc: type[Exception] = RuntimeError):
        self.NAME = name
        self.EVENTS = {("issues", None)}
        self.calls: list[str] = []
        self.fail_times = fail_times
        self.exc = exc

    async def handle(self, event: Event, ctx: Context) -> None:
        self.calls.append(event.delivery)
        if self.fail_times > 0:
            self.fail_times -= 1
            raise self.exc("boom")


async def store(engine: Any, payloads: list[dict[str, Any]], event: str = "issues") -> list[str]:
    writer = DeliveryWriter(engine)
    writer.start()
    guids = []
    for p in payloads:
        guid = str(uuid.uuid4())
        await writer.store(row_from_payload(guid, event, orjson.dumps(p), p, T0))
        guids.append(guid)
    writer.stop()
    return guids


def dispatcher(
    db_url: str, engine: Any, clock: FrozenClock, *modules: Any, **kw: Any
) -> Dispatcher:
    settings = make_settings(db_url, max_attempts=3, retry_base_seconds=60, **kw)
    return Runtime(
        settings=settings,
        engine=engine,
        clock=clock,
        bot_login="veilleur[bot]",
        handlers=build([SimpleNamespace(**vars(m), handle=m.handle) for m in modules]),
    ).dispatcher


async def drain(engine: Any, disp: Dispatcher, clock: FrozenClock) -> int:
    n = 0
    while (d := deliveries.claim_next(engine, clock.now())) is not None:
        await disp.run(d)
        n += 1
    return n


def status(engine: Any, guid: str) -> Delivery:
    with Session(engine) as s:
        row = s.get(Delivery, guid)
        assert row is not None
        return row


@pytest.fixture
def engine(migrated: str) -> Any:
    eng = make_engine(migrated)
    yield eng
    eng.dispose()


async def test_order_of_receipt_and_done(engine: Any, migrated: str) -> None:
    clock = FrozenClock(T0)
    rec = Recorder("rec")
    guids = await store(engine, [{"action": "opened", "n": i} for i in range(5)])
    assert await drain(engine, dispatcher(migrated, engine, clock, rec), clock) == 5
    assert rec.calls == guids
    assert all(status(engine, g).status == DeliveryStatus.DONE for g in guids)


async def test_failure_retries_with_backoff_then_dead(engine: Any, migrated: str) -> None:
    clock = FrozenClock(T0)
    bad = Recorder("bad", fail_times=99)
    disp = dispatcher(migrated, engine, clock, bad)
    (guid,) = await store(engine, [{"action": "opened"}])
    await drain(engine, disp, clock)
    row = status(engine, guid)
    assert row.status == DeliveryStatus.FAILED and row.attempts == 1
    assert row.next_attempt_at == T0 + timedelta(seconds=60) and "boom" in (row.last_error or "")
    assert await drain(engine, disp, clock) == 0  # not before its time
    clock.advance(timedelta(seconds=61))
    await drain(engine, disp, clock)
    assert status(engine, guid).next_attempt_at == clock.now() + timedelta(seconds=120)
    clock.advance(timedelta(seconds=121))
    await drain(engine, disp, clock)
    row = status(engine, guid)
    assert row.status == DeliveryStatus.DEAD and row.attempts == 3
    clock.advance(timedelta(days=1))
    assert await drain(engine, disp, clock) == 0
    assert len(bad.calls) == 3


async def test_each_handler_has_its_own_boundary(engine: Any, migrated: str) -> None:
    clock = FrozenClock(T0)
    good, flaky = Recorder("good"), Recorder("flaky", fail_times=1)
    disp = dispatcher(migrated, engine, clock, good, flaky)
    (guid,) = await store(engine, [{"action": "opened"}])
    await drain(engine, disp, clock)
    assert good.calls == [guid] and flaky.calls == [guid]
    assert status(engine, guid).status == DeliveryStatus.FAILED
    clock.advance(timedelta(minutes=5))
    await drain(engine, disp, clock)
    assert status(engine, guid).status == DeliveryStatus.DONE
    assert good.calls == [guid]  # not run twice: it had finished
    assert flaky.calls == [guid, guid]


async def test_user_error_is_not_a_failure(engine: Any, migrated: str) -> None:
    clock = FrozenClock(T0)
    disp = dispatcher(migrated, engine, clock, Recorder("picky", fail_times=1, exc=UserError))
    (guid,) = await store(engine, [{"action": "opened"}])  # no repository: nothing to comment on
    await drain(engine, disp, clock)
    assert status(engine, guid).status == DeliveryStatus.DONE


class Raiser:
    """A handler module stand-in that always raises `exc`."""

    def __init__(self, exc: Exception):
        self.NAME = "raiser"
        self.EVENTS = {("issues", None)}
        self.exc = exc

    async def handle(self, event: Event, ctx: Context) -> None:
        raise self.exc


ISSUE = {"action": "opened", "repository": {"full_name": "o/r"}, "issue": {"number": 7}}


async def test_a_command_refusal_is_answered_at_the_boundary_in_one_comment(
    engine: Any, migrated: str
) -> None:
    clock = FrozenClock(T0)
    refusal = CommandError("invalid", "not a duration", command="/snooze x", usage="/snooze 5d")
    disp = dispatcher(migrated, engine, clock, Raiser(refusal), dry_run=True)
    (guid,) = await store(engine, [ISSUE])
    await drain(engine, disp, clock)
    assert status(engine, guid).status == DeliveryStatus.DONE
    with Session(engine) as s:
        (comment,) = s.exec(select(ActionLog.detail)).all()  # dry-run: recorded, not posted
    assert comment.startswith("UpsertComment(repo='o/r', number=7")
    assert "veilleur-template:command_error/en" in comment and "`/snooze 5d`" in comment


async def test_an_internal_error_is_not_answered_and_leaves_the_delivery_failed(
    engine: Any, migrated: str
) -> None:
    clock = FrozenClock(T0)
    disp = dispatcher(migrated, engine, clock, Raiser(KeyError("login")), dry_run=True)
    (guid,) = await store(engine, [ISSUE])
    await drain(engine, disp, clock)
    assert status(engine, guid).status == DeliveryStatus.FAILED
    with Session(engine) as s:
        assert s.exec(select(ActionLog)).all() == []


async def test_an_answer_that_cannot_be_posted_fails_only_its_handler(
    engine: Any, migrated: str
) -> None:
    clock = FrozenClock(T0)
    refusal = CommandError("unauthorised", "needs triage", command="/label +bug")
    after = Recorder("after")
    disp = dispatcher(migrated, engine, clock, Raiser(refusal), after)  # no forge client
    (guid,) = await store(engine, [ISSUE])
    await drain(engine, disp, clock)
    assert status(engine, guid).status == DeliveryStatus.FAILED  # answered on a retry
    assert after.calls == [guid]  # the next handler still ran


async def test_later_event_of_same_item_waits_for_earlier(engine: Any, migrated: str) -> None:
    clock = FrozenClock(T0)
    flaky = Recorder("flaky", fail_times=1)
    disp = dispatcher(migrated, engine, clock, flaky)
    item = {"repository": {"full_name": "o/r"}, "issue": {"number": 7}}
    other = {"repository": {"full_name": "o/r"}, "issue": {"number": 8}}
    first, second, unrelated = await store(
        engine,
        [{"action": "opened", **item}, {"action": "edited", **item}, {"action": "opened", **other}],
    )
    await drain(engine, disp, clock)
    assert flaky.calls == [first, unrelated]  # `second` waits behind the failed `first`
    clock.advance(timedelta(minutes=2))
    await drain(engine, disp, clock)
    assert flaky.calls == [first, unrelated, first, second]


async def test_pending_work_survives_restart(engine: Any, migrated: str) -> None:
    clock = FrozenClock(T0)
    (guid,) = await store(engine, [{"action": "opened"}])
    assert deliveries.claim_next(engine, clock.now()) is not None  # a process took it, then died
    assert deliveries.claim_next(engine, clock.now()) is None
    assert deliveries.release_stale(engine, clock.now(), everything=True) == 1
    rec = Recorder("rec")
    await drain(engine, dispatcher(migrated, engine, clock, rec), clock)
    assert rec.calls == [guid] and status(engine, guid).status == DeliveryStatus.DONE


async def test_own_events_skip_feature_handlers(engine: Any, migrated: str) -> None:
    clock = FrozenClock(T0)
    rec = Recorder("rec")
    await store(engine, [{"action": "opened", "sender": {"login": "veilleur[bot]", "type": "Bot"}}])
    await drain(engine, dispatcher(migrated, engine, clock, rec), clock)
    assert rec.calls == []


def test_deliveries_command_shows_status(
    engine: Any, migrated: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (guid,) = asyncio.run(store(engine, [{"action": "opened"}]))
    deliveries.claim_next(engine, T0)
    deliveries.fail(engine, guid, T0, "RuntimeError: boom", max_attempts=1, base_seconds=1)
    assert cli_main(["--database-url", migrated, "deliveries"]) == 0
    out = capsys.readouterr().out
    assert guid in out and "dead" in out and "RuntimeError: boom" in out


async def test_compressed_and_legacy_raw_payloads_reach_handlers_alike(
    engine: Any, migrated: str
) -> None:
    """Rows hold lz4 frames since the intake compresses; rows written before hold raw JSON."""
    clock = FrozenClock(T0)
    seen: list[dict[str, Any]] = []

    class Capture(Recorder):
        async def handle(self, event: Event, ctx: Context) -> None:
            seen.append(event.payload)

    payload = {"action": "opened", "issue": {"number": 7, "title": "Été"}}
    (compressed,) = await store(engine, [payload])
    legacy = str(uuid.uuid4())
    with Session(engine) as s:
        s.add(Delivery(guid=legacy, seq=2**62, event="issues", action="opened",
                       received_at=T0, payload=orjson.dumps(payload)))  # fmt: skip
        s.commit()
    assert status(engine, compressed).payload[:4] == payloads.MAGIC
    assert await drain(engine, dispatcher(migrated, engine, clock, Capture("cap")), clock) == 2
    assert seen == [payload, payload]
    assert status(engine, legacy).status == DeliveryStatus.DONE
