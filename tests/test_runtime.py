"""`Runtime.receive(event, payload)`: one webhook through the whole path in-process, no HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlmodel import Session, select

from bot.clock import FrozenClock
from bot.runtime import Runtime
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade
from bot.storage.models import DeliveryStatus, Item, TimelineEntry
from tests.conftest import WEBHOOK_EXAMPLES, make_settings, need


async def test_receive_stores_and_dispatches_one_webhook(tmp_path) -> None:  # noqa: ANN001
    need(WEBHOOK_EXAMPLES)
    url = f"sqlite:///{tmp_path / 'v.db'}"
    upgrade(url)
    engine = make_engine(url)
    clock = FrozenClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    runtime = Runtime.build(make_settings(url), engine, clock)
    payload = json.loads((WEBHOOK_EXAMPLES / "issues" / "opened.payload.json").read_text())

    delivery = await runtime.receive("issues", payload, guid="g-1")

    assert delivery.status == DeliveryStatus.DONE
    repo, number = payload["repository"]["full_name"], payload["issue"]["number"]
    with Session(engine) as s:
        item = s.exec(select(Item).where(Item.repo_full_name == repo)).one()
        kinds = s.exec(select(TimelineEntry.kind).where(TimelineEntry.number == number)).all()
    assert item.number == number and "opened" in kinds
    again = await runtime.receive("issues", payload, guid="g-1")  # a redelivery adds nothing
    assert again.status == DeliveryStatus.DONE
    with Session(engine) as s:
        assert len(s.exec(select(TimelineEntry).where(TimelineEntry.number == number)).all()) == 1


def test_the_dashboard_reads_the_apps_login_from_the_runtime() -> None:
    from types import SimpleNamespace

    from bot.web.data import app_bot_logins

    runtime = SimpleNamespace(bot_login="veilleur[bot]")
    assert app_bot_logins(SimpleNamespace(runtime=runtime)) == ("veilleur[bot]",)
    assert app_bot_logins(SimpleNamespace(runtime=None)) == ()  # not built yet
    assert app_bot_logins(SimpleNamespace()) == ()  # a web process without the worker
