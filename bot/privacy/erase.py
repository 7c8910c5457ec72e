"""Right to erasure (GDPR art. 17): `veilleur privacy erase LOGIN [--dry-run]`.

The person's rows are kept under a stable pseudonym (`erased-…`, so every count and figure
stays), their text is emptied (titles, comments, reviews; comments made only of commands are
kept, being no response), their affiliation forgotten (company, e-mail domain, declared
organisation), their cached class dropped, and every stored payload rid of them. A row in
`erasures` records when and by which command, never whom.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.privacy import scan
from bot.privacy.payload_scrub import scrub_stored
from bot.privacy.person import identify
from bot.privacy.pseudonyms import Pseudonyms, is_pseudonym
from bot.privacy.rename import rename_person
from bot.storage.models import Erasure, Installation, Repository


class PrivacyError(Exception):
    """A request that cannot be carried out; the message is one sentence for the operator."""


@dataclass
class ErasureReport:
    pseudonym: str
    dry_run: bool
    rows: Counter[str] = field(default_factory=Counter)  # table -> rows concerned
    payloads: int = 0

    def lines(self) -> list[str]:
        verb = "would change" if self.dry_run else "changed"
        out = [f"{table}: {verb} {n} row(s)" for table, n in sorted(self.rows.items()) if n]
        out.append(f"stored payloads: {verb} {self.payloads}")
        return out


def _check(engine: Engine, login: str) -> None:
    if not login or is_pseudonym(login):
        raise PrivacyError(f"{login!r} is not a GitHub login.")
    R = Repository.__table__  # type: ignore[attr-defined]  # noqa: N806
    N = Installation.__table__  # type: ignore[attr-defined]  # noqa: N806
    with engine.connect() as conn:
        owns = (
            conn.execute(
                select(R.c.full_name).where(func.lower(R.c.owner) == login.lower()).limit(1)
            ).first()
            or conn.execute(
                select(N.c.id).where(func.lower(N.c.account_login) == login.lower()).limit(1)
            ).first()
        )
    if owns is not None:
        raise PrivacyError(
            f"{login} owns an installation of Veilleur: uninstall the App from that account "
            "first (its repositories' record is then the account's own data)."
        )


def erase(
    engine: Engine,
    login: str,
    now: datetime,
    *,
    command: str = "veilleur privacy erase",
    dry_run: bool = False,
) -> ErasureReport:
    """Erase `login` from the record (see the module docstring); idempotent."""
    _check(engine, login)
    person = identify(engine, login)
    pseudonym = Pseudonyms.of(engine)(login, "erased")
    report = ErasureReport(pseudonym, dry_run)
    if dry_run:
        with engine.connect() as conn:
            report.rows.update(t.name for t, _ in scan.matching_rows(conn, person))
        report.payloads = scrub_stored(engine, person, pseudonym, forget_text=True, dry_run=True)
        return report
    with engine.begin() as conn:
        report.rows = rename_person(
            conn, person, pseudonym, forget_text=True, forget_affiliation=True
        )
    report.payloads = scrub_stored(engine, person, pseudonym, forget_text=True)
    with Session(engine) as s:
        s.add(
            Erasure(
                erased_at=now,
                command=command[:100],
                rows_changed=sum(report.rows.values()),
                payloads_changed=report.payloads,
            )
        )
        s.commit()
    return report
