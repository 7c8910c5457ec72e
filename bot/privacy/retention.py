"""Retention, on by default; run daily by the `privacy-purge` job and by
`veilleur privacy purge [--dry-run]`.

- Payloads: a processed delivery (done, ignored or dead) received more than
  `VEILLEUR_PAYLOAD_RETENTION_DAYS` ago keeps its row (GUID for duplicate detection, event,
  repository, item, status: what the record needs) but its payload is reduced to `{}`; a
  done or ignored one also forgets which handlers finished it. The freed space then goes
  back to the file system (bot/storage/reclaim.py).
- People: a login with no activity (item opened or updated, timeline entry) for
  `VEILLEUR_PERSON_RETENTION_DAYS` is replaced by its stable pseudonym `person-…` everywhere.
  Their rows stay, so every figure, past weeks' digests included, is unchanged; the partner a
  configured login was credited to is frozen on the timeline first (the configuration will
  keep naming the login, not the pseudonym).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import LargeBinary, delete, func, literal, select, union_all, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Executable

from bot.privacy.payload_scrub import scrub_stored
from bot.privacy.person import Person
from bot.privacy.pseudonyms import Pseudonyms, is_pseudonym
from bot.privacy.rename import items_by_org, rename_person
from bot.storage.models import Delivery, DeliveryStatus, HandlerRun, Item, TimelineEntry
from bot.storage.models import TimelineKind as K
from bot.storage.reclaim import reclaim

log = logging.getLogger(__name__)

PROCESSED = (DeliveryStatus.DONE, DeliveryStatus.IGNORED, DeliveryStatus.DEAD)
FINISHED = (DeliveryStatus.DONE, DeliveryStatus.IGNORED)
REDUCED = b"{}"  # stored as is: 2 bytes, where an lz4 frame of it takes 25 (unpack reads both)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BATCH = 500
D = Delivery.__table__  # type: ignore[attr-defined]
I = Item.__table__  # type: ignore[attr-defined]  # noqa: E741
T = TimelineEntry.__table__  # type: ignore[attr-defined]
H = HandlerRun.__table__  # type: ignore[attr-defined]


@dataclass
class PurgeReport:
    dry_run: bool
    payloads: int = 0  # payloads reduced
    payload_bytes: int = 0  # stored bytes they held
    people: list[str] = field(default_factory=list)  # logins pseudonymised
    disk_freed: int = 0  # bytes given back to the file system afterwards (SQLite)

    def lines(self) -> list[str]:
        verb = "would reduce" if self.dry_run else "reduced"
        out = [f"payloads: {verb} {self.payloads} ({self.payload_bytes} bytes)"]
        verb = "would pseudonymise" if self.dry_run else "pseudonymised"
        out.append(f"people: {verb} {len(self.people)}")
        if self.disk_freed:
            out.append(f"disk: gave back {self.disk_freed} bytes")
        if self.dry_run:
            out += [f"  {login}" for login in self.people]
        return out


def expired_payloads(conn: Connection, cutoff: datetime) -> list[tuple[str, int]]:
    q = select(D.c.guid, func.length(D.c.payload)).where(
        D.c.status.in_(PROCESSED), D.c.received_at < cutoff, D.c.payload != REDUCED
    )
    return [(str(g), int(n or 0)) for g, n in conn.execute(q)]


def purge_payloads(
    engine: Engine, now: datetime, days: int, *, dry_run: bool = False
) -> tuple[int, int]:
    """Reduce the payloads of processed deliveries older than `days`: (payloads, bytes)."""
    cutoff = now - timedelta(days=days)
    with engine.connect() as conn:
        expired = expired_payloads(conn, cutoff)
    if not dry_run:
        guids = [g for g, _ in expired]
        for k in range(0, len(guids), BATCH):
            with engine.begin() as conn:
                conn.execute(_reduce(conn, guids[k : k + BATCH]))
                conn.execute(_forget_handler_runs(guids[k : k + BATCH]))
    return len(expired), sum(n for _, n in expired)


def _forget_handler_runs(guids: list[str]) -> Executable:
    """Which handlers finished a delivery only matters while it may run again: not once it is
    done or ignored (a redelivery is answered `done`); a dead one keeps them for its retry."""
    finished = select(D.c.guid).where(D.c.guid.in_(guids), D.c.status.in_(FINISHED))
    return delete(H).where(H.c.delivery_guid.in_(finished))


def _reduce(conn: Connection, guids: list[str]) -> Executable:
    """The statement that reduces these payloads. SQLite: the rows are written anew (REPLACE:
    delete, then insert at the end of the table) rather than updated, because an UPDATE that
    shrinks a row leaves its page as it was (no rebalancing), one small row per page: the
    file then stays at ~75 % of its size whatever the vacuum; rewritten rows pack densely
    and the emptied pages go to the free list, which bot/storage/reclaim.py gives back."""
    if conn.dialect.name != "sqlite":
        return update(D).where(D.c.guid.in_(guids)).values(payload=REDUCED)
    names = [c.name for c in D.columns]
    rows = select(
        *(literal(REDUCED, LargeBinary) if n == "payload" else D.c[n] for n in names)
    ).where(D.c.guid.in_(guids), D.c.status.in_(PROCESSED))
    return sqlite_insert(D).from_select(names, rows).prefix_with("OR REPLACE")


def inactive_people(conn: Connection, cutoff: datetime) -> list[str]:
    """Logins (not bots, not already pseudonyms) with no activity since `cutoff`."""
    item_at = func.coalesce(I.c.updated_at, I.c.created_at)
    actor_type = func.coalesce(T.c.actor_type, literal("User"))
    activity = union_all(
        select(I.c.author_login.label("login"), item_at.label("at"))
        .where(I.c.author_type != "Bot"),
        select(T.c.actor_login.label("login"), T.c.occurred_at.label("at"))
        .where(T.c.actor_login.is_not(None), actor_type != "Bot"),
    ).subquery()  # fmt: skip
    q = select(activity.c.login).group_by(activity.c.login).having(func.max(activity.c.at) < cutoff)
    out = []
    for (login,) in conn.execute(q):
        login = str(login or "")
        if login and login != "ghost" and not login.endswith("[bot]") and not is_pseudonym(login):
            out.append(login)
    return sorted(out)


def _freeze_partner_credit(conn: Connection, login: str, pseudonym: str) -> None:
    from bot.digest.configs import OrgConfigs, stored_configs

    engine = conn.engine
    for org, (repo, number) in items_by_org(conn, login).items():
        partner = OrgConfigs(org, None, stored_configs(engine, org)).affiliation().by_login(login)
        if partner is None:
            continue
        conn.execute(
            T.insert().values(
                repo_full_name=repo, number=number, occurred_at=EPOCH, kind=K.AFFILIATION,
                actor_login=pseudonym, actor_type="User", source_key=f"privacy:{pseudonym}",
                detail={"organisation": partner, "by": "retention"},
            )
        )  # fmt: skip


def pseudonymise_inactive(
    engine: Engine, now: datetime, days: int, *, dry_run: bool = False
) -> list[str]:
    cutoff = now - timedelta(days=days)
    with engine.connect() as conn:
        people = inactive_people(conn, cutoff)
    if dry_run or not people:
        return people
    pseudonyms = Pseudonyms.of(engine)
    for login in people:
        pseudonym = pseudonyms(login, "person")
        person = Person(login)
        with engine.begin() as conn:
            _freeze_partner_credit(conn, login, pseudonym)
            rename_person(
                conn, person, pseudonym, forget_text=False, forget_affiliation=False,
                keep_tables=frozenset({"configs"}),
            )  # fmt: skip
        scrub_stored(engine, person, pseudonym, forget_text=False)
    return people


def purge(
    engine: Engine, now: datetime, *, payload_days: int, person_days: int, dry_run: bool = False
) -> PurgeReport:
    """Both retention rules as of `now` (the job and `veilleur privacy purge` call this)."""
    report = PurgeReport(dry_run)
    report.payloads, report.payload_bytes = purge_payloads(
        engine, now, payload_days, dry_run=dry_run
    )
    report.people = pseudonymise_inactive(engine, now, person_days, dry_run=dry_run)
    if not dry_run and report.payloads:
        reclaimed = reclaim(engine)  # the freed pages back to the file system (SQLite)
        report.disk_freed = reclaimed.freed if reclaimed else 0
    if not dry_run and (report.payloads or report.people):
        log.info(
            "retention: %d payloads reduced, %d people pseudonymised",
            report.payloads,
            len(report.people),
        )
    return report
