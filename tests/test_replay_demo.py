"""The replay reproduces what the live bot did: `veilleur demo` records six weeks of a city's
repositories through the real server; replaying that record (Veilleur's own comments left
out) at the demo's sweep times gives back every comment Veilleur wrote, at the same instant,
on the same item (welcomes, requests for information, checklists, command replies,
reminders, escalations), and the same escalation mails. Per owner: Paris's GitHub organisation
and Gent's group on the simulated GitLab are replayed apart, each from its own history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.forge.names import owner_of
from bot.replay.history import VEILLEUR_MARK
from bot.sim.demo.world import GENT_OWNER, ORG
from tests.demo_run import DemoRun


@pytest.fixture(scope="module")
def demo_db(demo_run: DemoRun) -> Path:
    """The database of the session's one demo run (tests/demo_run.py), as the demo left it."""
    return demo_run.pristine


def _live_comments(db: Path, owner: str) -> tuple[set[tuple[Any, ...]], int]:
    from sqlmodel import Session, col, select

    from bot.storage.db import make_engine
    from bot.storage.models import Delivery, TimelineEntry

    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        rows = s.scalars(select(TimelineEntry).where(col(TimelineEntry.kind) == "commented"))
        live = set()
        for e in rows:
            body = str((e.detail or {}).get("body") or "")
            if owner_of(e.repo_full_name) != owner:
                continue
            if VEILLEUR_MARK in body and body.startswith("<!-- veilleur:"):
                kind = body.removeprefix("<!-- veilleur:").split(":", 1)[0]
                live.add((e.occurred_at.replace(tzinfo=UTC), e.repo_full_name, e.number, kind))
        deliveries = len(list(s.scalars(select(col(Delivery.guid)))))
    engine.dispose()
    return live, deliveries


def _demo_sweeps() -> list[datetime]:
    from bot.sim.demo import script

    ticks, day = [], script.START
    while day <= script.END:
        if day.weekday() < 5:
            ticks += [script.at(day, t.hour, t.minute).astimezone(UTC) for t in script.SWEEP_TIMES]
        day += timedelta(days=1)
    return ticks


@pytest.mark.parametrize("owner", [ORG, GENT_OWNER])  # the demo's GitHub org, its GitLab group
@pytest.mark.parametrize("exhaustive", [False, True])
def test_replay_of_the_demo_gives_back_what_the_live_bot_wrote(
    demo_db: Path, exhaustive: bool, owner: str
) -> None:
    from bot.replay.cli import config_source
    from bot.replay.engine import replay_history
    from bot.replay.history import load_history
    from bot.runtime import handler_modules
    from bot.sim.demo import script
    from bot.storage.db import make_engine

    live, deliveries = _live_comments(demo_db, owner)
    assert deliveries and len(live) >= (10 if owner == ORG else 2)  # the demo's story
    engine = make_engine(f"sqlite:///{demo_db}")
    history = load_history(engine, owner, datetime.max.replace(tzinfo=UTC))
    engine.dispose()
    assert history.veilleur_login and all(
        (e.actor_login or "") != history.veilleur_login for es in history.entries.values() for e in es
    )  # fmt: skip
    start = script.at(script.START, 0).astimezone(UTC)
    end = script.at(script.END + timedelta(days=1), 0).astimezone(UTC)
    result = replay_history(
        history, start, end, config_source(None, history.configs),
        sweep_at=_demo_sweeps(), exhaustive=exhaustive, handlers=handler_modules(),
    )  # fmt: skip
    replayed = {(p.at, p.repo, p.number, p.kind) for p in result.produced if p.what == "comment"}
    assert replayed == live
    kinds = [k for *_, k in replayed]
    mails = [p for p in result.produced if p.what == "mail"]
    if owner == GENT_OWNER:  # Sanne's welcome, and the reminder of her merge request
        assert kinds.count("reminder") >= 1 and kinds.count("welcome") == 1 and mails == []
        return
    # escalations are mails (and a recorded state), never comments on the item
    assert kinds.count("reminder") >= 5 and kinds.count("escalation") == 0
    assert {"welcome", "request-info", "pr-checklist", "command-reply"} <= set(kinds)
    assert len(mails) == 3 and all(m.to == ("ospo@paris.example",) for m in mails)
    assert len([p for p in result.produced if p.kind == "escalated"]) == len(mails)
