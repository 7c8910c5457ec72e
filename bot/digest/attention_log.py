"""What the attention budget switched or held during a week (bot/sla/attention_budget.py), read
back from `action_log` for the digest: an OSPO sees when Veilleur kept quiet, and why."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.sla.attention_budget import parse_decision
from bot.storage.models import ActionLog


def load_decisions(conn: Connection, org: str, first: date, last: date) -> list[dict[str, Any]]:
    """The decisions of `org`'s repositories whose day is in [first, last], one row per
    repository, rule, outcome and person, counted (`times`: items concerned)."""
    key = ActionLog.__table__.c.key  # type: ignore[attr-defined]
    detail = ActionLog.__table__.c.detail  # type: ignore[attr-defined]
    rows = conn.execute(select(detail).where(key.startswith(f"attention:{org}/")))
    grouped: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for (text,) in rows:
        d = parse_decision(text)
        if d is None or not first.isoformat() <= d.day <= last.isoformat():
            continue
        row = grouped.setdefault(
            (d.repo, d.rule, d.outcome, d.person),
            {"repo": d.repo, "rule": d.rule, "outcome": d.outcome, "person": d.person,
             "limit": d.limit, "highest": d.value, "times": 0, "days": set()},
        )  # fmt: skip
        row["times"] += 1
        row["highest"] = max(row["highest"], d.value)
        row["days"].add(d.day)
    out = []
    for row in sorted(grouped.values(), key=lambda r: (r["repo"], r["rule"], r["person"])):
        out.append(row | {"days": sorted(row["days"])})
    return out
