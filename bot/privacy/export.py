"""Right of access (GDPR art. 15): `veilleur privacy export LOGIN` prints, as JSON, every row
of every table and every stored payload (decompressed) that holds a trace of the person."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.privacy import scan
from bot.privacy.payload_scrub import mentions
from bot.privacy.person import identify, stored_payloads
from bot.storage.models import Delivery


def export_person(engine: Engine, login: str, now: datetime) -> dict[str, Any]:
    person = identify(engine, login)
    with engine.connect() as conn:
        tables = scan.export_rows(conn, person)
    D = Delivery.__table__  # type: ignore[attr-defined]  # noqa: N806
    found: list[dict[str, Any]] = []
    for guid, doc in stored_payloads(engine):
        if doc is None or not mentions(doc, person):
            continue
        with engine.connect() as conn:
            row = conn.execute(
                select(D.c.event, D.c.action, D.c.received_at, D.c.status).where(D.c.guid == guid)
            ).one()
        found.append(
            {
                "guid": guid,
                "event": row.event,
                "action": row.action,
                "received_at": scan.plain(row.received_at),
                "status": row.status,
                "payload": doc,
            }
        )
    return {
        "subject": person.describe(),
        "generated_at": now.isoformat(),
        "controller_note": "Everything Veilleur holds about this person (docs/privacy.md).",
        "tables": tables,
        "payloads": found,
    }
