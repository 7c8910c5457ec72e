"""Missed-delivery recovery: ask GitHub to send again what Veilleur never stored.

GitHub keeps a log of every webhook attempt (`GET /app/hook/deliveries`, App JWT, newest
first, cursor paging in `Link`). Within a bounded window (24 h), a GUID that Veilleur does not
have in its deliveries table was lost on the way: GitHub saw a failure (503 during a database
outage, timeout, refused connection) or, rarer, Veilleur lost it after answering. For each
such GUID one redelivery is requested (`POST /app/hook/deliveries/{id}/attempts`), keyed
`redeliver:{guid}` in `action_log` so it is never asked twice (no loop if it fails again).
A GUID Veilleur has is never redelivered: its own queue retries it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot import prometheus as metrics
from bot.storage.models import ActionLog, Delivery

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
MAX_PAGES = 50  # 100 per page: 5,000 attempts looked at per run at most
MAX_REDELIVERIES = 500  # per run, to stay gentle with the API


@dataclass(frozen=True)
class Missed:
    guid: str
    delivery_id: int  # the latest attempt, the one to redeliver
    event: str
    reason: str  # "failed" (GitHub saw no 2xx) or "missing" (2xx there, absent here)


@dataclass
class RecoveryReport:
    attempts_listed: int = 0
    redelivered: list[Missed] = field(default_factory=list)
    already_asked: int = 0
    errors: list[str] = field(default_factory=list)


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _ok(attempt: dict[str, Any]) -> bool:
    code = attempt.get("status_code")
    return isinstance(code, int) and 200 <= code < 300 and attempt.get("status") == "OK"


def find_missed(attempts: Iterable[dict[str, Any]], known: set[str]) -> list[Missed]:
    """Pure step: GUIDs absent from `known`, oldest first, one entry each (pings excluded)."""
    by_guid: dict[str, list[dict[str, Any]]] = {}
    for a in attempts:
        guid = a.get("guid")
        if isinstance(guid, str) and guid and a.get("event") != "ping":
            by_guid.setdefault(guid, []).append(a)
    missed = []
    for guid, tries in by_guid.items():
        if guid in known:
            continue
        latest = max(tries, key=lambda a: int(a.get("id") or 0))
        reason = "missing" if any(_ok(a) for a in tries) else "failed"
        missed.append(Missed(guid, int(latest["id"]), str(latest.get("event") or ""), reason))
    missed.sort(key=lambda m: m.delivery_id)
    return missed


async def list_attempts(
    app_client: Any, since: datetime, per_page: int = 100
) -> list[dict[str, Any]]:
    """Every logged attempt delivered at or after `since` (follows the `next` cursor)."""
    url: str = "/app/hook/deliveries"
    params: dict[str, Any] | None = {"per_page": per_page}
    out: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        resp = await app_client.arequest("GET", url, params=params)
        batch = resp.json()
        if not isinstance(batch, list) or not batch:
            break
        out.extend(batch)
        oldest = _when(batch[-1].get("delivered_at"))
        nxt = resp.raw_response.links.get("next", {}).get("url")
        if not nxt or (oldest is not None and oldest < since):
            break
        url, params = nxt, None
    return [a for a in out if (_when(a.get("delivered_at")) or since) >= since]


def known_guids(engine: Engine, guids: list[str]) -> set[str]:
    found: set[str] = set()
    with Session(engine) as s:
        for i in range(0, len(guids), 500):
            chunk = guids[i : i + 500]
            rows = s.execute(select(col(Delivery.guid)).where(col(Delivery.guid).in_(chunk)))
            found.update(r[0] for r in rows)
    return found


def claim(engine: Engine, key: str, now: datetime, detail: str) -> bool:
    """Take `key` in `action_log`; False when someone already holds it (a request never made
    twice, also across processes). Shared with bot/gitlab/recovery.py."""
    try:
        with Session(engine) as s:
            s.add(ActionLog(key=key, done_at=now, detail=detail[:2000]))
            s.commit()
        return True
    except IntegrityError:
        return False


def unclaim(engine: Engine, key: str) -> None:
    """Give `key` back: the request it stood for was not made after all."""
    with Session(engine) as s:
        s.execute(delete(ActionLog).where(col(ActionLog.key) == key))
        s.commit()


async def recover(
    app_client: Any,
    engine: Engine,
    now: datetime,
    *,
    window: timedelta = WINDOW,
    per_page: int = 100,
    dry_run: bool = False,
) -> RecoveryReport:
    """List the window's attempts, and request one redelivery per GUID missing here."""
    report = RecoveryReport()
    attempts = await list_attempts(app_client, now - window, per_page)
    report.attempts_listed = len(attempts)
    guids = sorted({a["guid"] for a in attempts if isinstance(a.get("guid"), str)})
    missed = find_missed(attempts, known_guids(engine, guids))
    for m in missed[:MAX_REDELIVERIES]:
        key = f"redeliver:{m.guid}"
        if dry_run:
            log.info(
                "dry-run: would ask GitHub to redeliver %s (%s, %s)", m.guid, m.event, m.reason
            )
            continue
        if not claim(engine, key, now, f"{m.event} {m.reason} attempt {m.delivery_id}"):
            report.already_asked += 1
            continue
        try:
            await app_client.arequest("POST", f"/app/hook/deliveries/{m.delivery_id}/attempts")
        except Exception as exc:  # not asked after all: the next run tries again
            unclaim(engine, key)
            report.errors.append(f"{m.guid}: {type(exc).__name__}: {exc}")
            log.warning("redelivery of %s could not be requested: %s", m.guid, exc)
            continue
        metrics.REDELIVERIES_REQUESTED.labels(reason=m.reason).inc()
        report.redelivered.append(m)
        log.info("asked GitHub to redeliver %s (%s, %s at GitHub)", m.guid, m.event, m.reason)
    if missed or report.errors:
        log.info(
            "delivery recovery: %d attempts in %s, %d missing here, %d redeliveries requested, "
            "%d already asked before, %d errors",
            len(attempts), window, len(missed), len(report.redelivered), report.already_asked,
            len(report.errors),
        )  # fmt: skip
    return report
