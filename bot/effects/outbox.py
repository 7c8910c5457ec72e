"""Mail that leaves Veilleur is sent at least once, and recorded as done only once accepted.

A mail with a `once` key is first put in the outbox (an `action_log` row keyed
`outbox:<key>`, holding the message), then sent. Accepted by the SMTP server: its `once` key is
recorded and the outbox row removed, in one transaction. Refused or unreachable: the row stays,
and every SLA sweep sends what the outbox holds (`send_pending`). The row's time is a lease:
whoever sends takes it for `LEASE` with a conditional update, so two sweeps, or a sweep and the
delivery that queued the mail, never send it at the same time.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.effects.actions import SendEmail
from bot.storage.models import ActionLog

log = logging.getLogger(__name__)

PREFIX = "outbox:"
LEASE = timedelta(minutes=5)


def _row_key(once: str) -> str:
    return PREFIX + once


def _message(action: SendEmail) -> str:
    return json.dumps(
        {"to": list(action.to), "subject": action.subject, "text": action.text, "html": action.html}
    )


def queue(engine: Engine, action: SendEmail, once: str, now: datetime) -> bool:
    """Put the mail in the outbox, leased to the caller. False if it is already there."""
    try:
        with Session(engine) as s:
            s.add(ActionLog(key=_row_key(once), done_at=now + LEASE, detail=_message(action)))
            s.commit()
        return True
    except IntegrityError:
        return False


def _take(engine: Engine, key: str, leased_until: datetime, now: datetime) -> bool:
    with Session(engine) as s:
        taken = s.exec(
            update(ActionLog)
            .where(col(ActionLog.key) == key, col(ActionLog.done_at) == leased_until)
            .values(done_at=now + LEASE)
        ).rowcount
        s.commit()
        return bool(taken == 1)


def accepted(engine: Engine, once: str, desc: str, now: datetime) -> None:
    """The SMTP server took the mail: its key is done and it leaves the outbox."""
    with Session(engine) as s:
        s.exec(delete(ActionLog).where(col(ActionLog.key) == _row_key(once)))
        if s.get(ActionLog, once) is None:
            s.add(ActionLog(key=once, done_at=now, detail=desc[:2000]))
        s.commit()


def refused(engine: Engine, once: str, now: datetime) -> None:
    """Sending failed: the lease ends at once, for the next sweep."""
    with Session(engine) as s:
        s.exec(update(ActionLog).where(col(ActionLog.key) == _row_key(once)).values(done_at=now))
        s.commit()


async def send(engine: Engine, mailer: Any, action: SendEmail, once: str, now: datetime) -> bool:
    """Send a leased mail; True once accepted, False if it stays in the outbox."""
    try:
        await mailer.send(action)
    except Exception as exc:  # SMTP down, refused, timed out: the outbox keeps it
        log.warning("mail %s not sent (%s); kept in the outbox for the next sweep", once, exc)
        refused(engine, once, now)
        return False
    accepted(engine, once, action.describe(), now)
    return True


async def send_pending(engine: Engine, mailer: Any, now: datetime) -> list[str]:
    """Send every mail the outbox holds whose lease has ended; the descriptions of those sent."""
    with Session(engine) as s:
        rows = list(
            s.exec(
                select(ActionLog).where(
                    col(ActionLog.key).startswith(PREFIX), col(ActionLog.done_at) <= now
                )
            )
        )
    sent: list[str] = []
    for row in rows:
        once = row.key[len(PREFIX) :]
        if not _take(engine, row.key, row.done_at, now):
            continue  # another sweep took it
        fields = json.loads(row.detail or "{}")
        action = SendEmail(
            to=tuple(fields["to"]),
            subject=fields["subject"],
            text=fields["text"],
            html=fields.get("html"),
            once=once,
        )
        if await send(engine, mailer, action, once, now):
            sent.append(action.describe())
    return sent
