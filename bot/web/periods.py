"""The period a dashboard page covers: one week, 4 weeks, 12 weeks or a custom run of weeks,
always whole ISO weeks ending with a week of the snapshot (which holds 12 weeks).

Query: `?period=week|4w|12w` with `&week=YYYY-Www` (the last week; default: the latest
complete one), or `?from=YYYY-Www&to=YYYY-Www` (a custom range of at most 12 weeks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.web.data import shift_week, valid_week

KINDS = {"week": 1, "4w": 4, "12w": 12}
MAX_WEEKS = 12


class BadPeriod(ValueError):
    """`key`: the message saying why (in the dashboard's catalogs)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class Period:
    kind: str  # week | 4w | 12w | custom
    last: str  # the period's last ISO week
    weeks: int  # 1..12
    explicit: bool  # a week was asked (not "the latest")

    @property
    def first(self) -> str:
        return shift_week(self.last, 1 - self.weeks)

    def query(self) -> dict[str, str]:
        """The query string naming this period (for links)."""
        if self.kind == "custom":
            return {"from": self.first, "to": self.last}
        out = {"period": self.kind}
        if self.explicit:
            out["week"] = self.last
        return out

    def indices(self, snapshot_weeks: int = MAX_WEEKS) -> tuple[int, int]:
        """[first, last] indices into the snapshot's weeks (which end with `last`)."""
        return snapshot_weeks - self.weeks, snapshot_weeks - 1


def _week(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not valid_week(value):
        raise BadPeriod("period_error_week")
    return value


def parse_period(query: Mapping[str, str], latest: str) -> Period:
    """The period asked by `query`; `latest`: the last complete week. BadPeriod if invalid."""
    start, end = _week(query.get("from")), _week(query.get("to"))
    if start is not None or end is not None:
        last = end or latest
        first = start or last
        if first > last or last > latest:
            raise BadPeriod("period_error_range")
        count = 1
        while shift_week(first, count - 1) < last:
            count += 1
            if count > MAX_WEEKS:
                raise BadPeriod("period_error_long")
        return Period("custom", last, count, True)
    kind = query.get("period") or "week"
    if kind not in KINDS:
        raise BadPeriod("period_error_kind")
    week = _week(query.get("week"))
    if week is not None and week > latest:
        raise BadPeriod("period_error_range")
    return Period(kind, week or latest, KINDS[kind], week is not None and week != latest)
