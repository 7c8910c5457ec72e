"""ISO weeks as digest periods, in the local time of the organisation's calendar.

A week `YYYY-Www` runs from Monday 00:00 to the next Monday 00:00 local time (the end is
excluded; a DST week is 167 or 169 real hours long). Pure functions, no clock.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)


def parse_week(week: str) -> tuple[int, int]:
    """`2026-W10` (also `2026W10`, `2026-w9`) to (2026, 10); ValueError if there is no such week."""
    match = _WEEK.match(week)
    if not match:
        raise ValueError(f"{week!r} is not an ISO week like 2026-W10")
    year, number = int(match[1]), int(match[2])
    try:
        date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"{year} has no week {number}") from None
    return year, number


def normalise_week(week: str) -> str:
    year, number = parse_week(week)
    return f"{year}-W{number:02d}"


def week_of_date(day: date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


def week_of(instant: datetime, tz: tzinfo) -> str:
    """The ISO week an instant falls in, in local time."""
    return week_of_date(instant.astimezone(tz).date())


def monday(week: str) -> date:
    year, number = parse_week(week)
    return date.fromisocalendar(year, number, 1)


def week_bounds(week: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) local time, as aware datetimes in `tz`."""
    first = monday(week)
    start = datetime.combine(first, time(), tzinfo=tz)
    end = datetime.combine(first + timedelta(days=7), time(), tzinfo=tz)
    return start, end


def shift_week(week: str, weeks: int) -> str:
    return week_of_date(monday(week) + timedelta(weeks=weeks))


def last_complete_week(now: datetime, tz: tzinfo) -> str:
    """The most recent ISO week that has fully ended at `now` (local time)."""
    return shift_week(week_of(now, tz), -1)


def weeks_ending(week: str, count: int) -> list[str]:
    """`count` consecutive weeks ending with `week`, oldest first."""
    return [shift_week(week, -k) for k in range(count - 1, -1, -1)]


def schedule_instant(week: str, day: int, hour: int, tz: tzinfo) -> datetime:
    """When the digest of `week` is due: in the following week, on weekday `day` (0 = Monday)
    at `hour`:00 local time."""
    first = monday(week) + timedelta(days=7 + day)
    return datetime.combine(first, time(hour), tzinfo=tz)
