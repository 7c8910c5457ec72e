"""Business time: which local days count, and how much of them lies between two instants.

SLAs are promises made by people who work office hours in one place, so "2 days" means two
*business* days of that place, not 48 hours. Everything here is pure (no I/O, no clock) and
exact: internal sums use `Fraction` of microseconds, so DST days of 23 h or 25 h still count
as exactly one day and `add_business_days` is the exact inverse of `business_days_between`.

Definitions:
- A **business day** is a local date (in the calendar's time zone) that is a workday
  (Mon-Fri by default), not a public holiday of the configured country/subdivision (from the
  `holidays` package and `bot.sla.regional_holidays`, plus any `extra_holidays`), and not inside
  a closure (inclusive range); or a date listed in `working_days` (worked whatever its
  weekday or holiday), unless it is inside a closure. A holiday named in `working_days`
  ("Lundi de Pentecôte") is worked every year.
- `business_days_between(start, end)` sums, over each local calendar day, the overlap of
  [start, end) with that day divided by the real length of that day, for business days only.
- `add_business_days(start, n)` is the smallest instant t with business_days_between(start, t)
  >= n (microsecond resolution).
- `working_hours_between(start, end)` counts real hours inside the working-hours window of
  business days.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from bot.sla import regional_holidays

_US = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)
# Give up after this many days without reaching a target (e.g. every day is closed).
_SEARCH_LIMIT_DAYS = 366 * 50

DAY_NAMES: dict[str, int] = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip

DEFAULT_WORKDAYS: tuple[int, ...] = (0, 1, 2, 3, 4)
DEFAULT_WORKING_HOURS: tuple[time, time] = (time(9), time(18))

Closure = tuple[date, date]
_DAY_RE = re.compile(r"^(\d{4}-)?\d{2}-\d{2}$")


def _require_aware(*instants: datetime) -> None:
    for t in instants:
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"naive datetime {t!r}: business time needs aware datetimes")


def _micros(delta: timedelta) -> int:
    return delta // _US


class BusinessCalendar:
    """Business days and working hours of one place (time zone, country, closures)."""

    def __init__(
        self,
        timezone: str = "Europe/Paris",
        country: str | None = "FR",
        subdivision: str | None = None,
        workdays: Iterable[int] = DEFAULT_WORKDAYS,
        closures: Iterable[Closure] = (),
        working_hours: tuple[time, time] = DEFAULT_WORKING_HOURS,
        extra_holidays: Iterable[date | tuple[int, int]] = (),
        working_days: Iterable[date | tuple[int, int] | str] = (),
    ) -> None:
        """`extra_holidays`: one-off dates, or (month, day) pairs recurring every year
        (e.g. (9, 27) for a regional day the `holidays` package does not know).
        `working_days`: days worked although they are holidays or weekend days: dates,
        (month, day) pairs, or holiday names ("Lundi de Pentecôte", in any language the
        `holidays` package has for the country)."""
        self.timezone = timezone
        self.tz: tzinfo = ZoneInfo(timezone)
        self.country = country.upper() if country else None
        # Fails at construction (config validation), not in the middle of a sweep.
        self.subdivision = regional_holidays.resolve_subdivision(self.country, subdivision)
        self.workdays = frozenset(workdays)
        if not self.workdays or not self.workdays <= set(range(7)):
            raise ValueError(f"workdays must be a non-empty subset of 0..6, got {sorted(workdays)}")
        self.closures: tuple[Closure, ...] = tuple(sorted((a, b) for a, b in closures))
        for a, b in self.closures:
            if b < a:
                raise ValueError(f"closure ends before it starts: {a} .. {b}")
        start, end = working_hours
        if not start < end:
            raise ValueError(f"working hours must start before they end: {start}-{end}")
        self.working_hours = (start, end)
        self._extra_dates = frozenset(d for d in extra_holidays if isinstance(d, date))
        self._extra_yearly = frozenset(
            (int(d[0]), int(d[1])) for d in extra_holidays if not isinstance(d, date)
        )
        worked = list(working_days)
        self._worked_dates = frozenset(d for d in worked if isinstance(d, date))
        self._worked_yearly = frozenset(
            (int(d[0]), int(d[1])) for d in worked if isinstance(d, tuple | list)
        )
        self._worked_names = tuple(d for d in worked if isinstance(d, str))
        if self._worked_names and not self.country:
            raise ValueError("holiday names in working_days need a country")
        self._holiday_cache: dict[int, frozenset[date]] = {}

    def __repr__(self) -> str:
        return (
            f"BusinessCalendar(timezone={self.timezone!r}, country={self.country!r}, "
            f"subdivision={self.subdivision!r}, workdays={sorted(self.workdays)}, "
            f"closures={len(self.closures)}, working_hours={self.working_hours}, "
            f"working_days={len(self._worked_dates) + len(self._worked_yearly)}"
            f"+{len(self._worked_names)} names)"
        )

    # --- days -------------------------------------------------------------------------------

    def holidays_in(self, year: int) -> frozenset[date]:
        """Public holidays of one year, less those worked (cached: the `holidays` package is
        slow to build)."""
        cached = self._holiday_cache.get(year)
        if cached is None:
            days: set[date] = set()
            if self.country:
                days.update(regional_holidays.public_holidays(self.country, self.subdivision, year))
                days -= regional_holidays.named_days(
                    self.country, self.subdivision, year, self._worked_names
                )
            days.update(d for d in self._extra_dates if d.year == year)
            for month, day in self._extra_yearly:
                try:
                    days.add(date(year, month, day))
                except ValueError:  # 29 Feb in a common year
                    pass
            days = {d for d in days if not self.is_worked(d)}
            cached = self._holiday_cache[year] = frozenset(days)
        return cached

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays_in(day.year)

    def is_closed(self, day: date) -> bool:
        return any(a <= day <= b for a, b in self.closures)

    def is_worked(self, day: date) -> bool:
        """Listed as a date in `working_days` (worked whatever its weekday)."""
        return day in self._worked_dates or (day.month, day.day) in self._worked_yearly

    def is_business_day(self, day: date) -> bool:
        """A workday that is neither a public holiday nor inside a closure, or a day listed
        in `working_days` outside closures."""
        if self.is_closed(day):
            return False
        if self.is_worked(day):
            return True
        return day.weekday() in self.workdays and not self.is_holiday(day)

    def _local_instant(self, day: date, at: time) -> datetime:
        """UTC instant of a local wall time (a time skipped by DST maps to the jump instant)."""
        return datetime.combine(day, at, tzinfo=self.tz).astimezone(UTC)

    def _day_bounds(self, day: date) -> tuple[datetime, datetime]:
        return self._local_instant(day, time()), self._local_instant(day + _ONE_DAY, time())

    def _local_date(self, t: datetime) -> date:
        return t.astimezone(self.tz).date()

    # --- business days ----------------------------------------------------------------------

    def business_time_between(self, start: datetime, end: datetime) -> Fraction:
        """Exact business days in [start, end): per local day, overlap / real day length."""
        _require_aware(start, end)
        s, e = start.astimezone(UTC), end.astimezone(UTC)
        if e <= s:
            return Fraction(0)
        total = Fraction(0)
        day, last = self._local_date(s), self._local_date(e)
        while day <= last:
            if self.is_business_day(day):
                lo, hi = self._day_bounds(day)
                overlap = min(hi, e) - max(lo, s)
                if overlap == hi - lo:
                    total += 1
                elif overlap > timedelta(0):
                    total += Fraction(_micros(overlap), _micros(hi - lo))
            day += _ONE_DAY
        return total

    def business_days_between(self, start: datetime, end: datetime) -> float:
        """Business days in [start, end) as a float; 0 if end <= start. Raises on naive input."""
        return float(self.business_time_between(start, end))

    def add_business_days(self, start: datetime, days: float | Fraction) -> datetime:
        """Smallest instant t with business_days_between(start, t) >= days.

        Returned in `start`'s time zone; `days <= 0` returns `start` itself.
        """
        _require_aware(start)
        target = Fraction(days)
        if target <= 0:
            return start
        s = start.astimezone(UTC)
        day = self._local_date(s)
        acc = Fraction(0)
        for _ in range(_SEARCH_LIMIT_DAYS):
            if self.is_business_day(day):
                day_lo, hi = self._day_bounds(day)
                lo = max(day_lo, s)
                if hi > lo:
                    length = _micros(hi - day_lo)
                    avail = Fraction(_micros(hi - lo), length)
                    if acc + avail >= target:
                        need = math.ceil((target - acc) * length)
                        return (lo + need * _US).astimezone(start.tzinfo)
                    acc += avail
            day += _ONE_DAY
        raise ValueError(f"no {days} business days within {_SEARCH_LIMIT_DAYS} days of {start}")

    # --- working hours ----------------------------------------------------------------------

    def _working_window(self, day: date) -> tuple[datetime, datetime]:
        ws, we = self.working_hours
        return self._local_instant(day, ws), self._local_instant(day, we)

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Real hours of [start, end) inside working hours of business days."""
        _require_aware(start, end)
        s, e = start.astimezone(UTC), end.astimezone(UTC)
        if e <= s:
            return 0.0
        micros = 0
        day, last = self._local_date(s), self._local_date(e)
        while day <= last:
            if self.is_business_day(day):
                lo, hi = self._working_window(day)
                overlap = min(hi, e) - max(lo, s)
                if overlap > timedelta(0):
                    micros += _micros(overlap)
            day += _ONE_DAY
        return micros / 3_600_000_000

    def is_working_time(self, t: datetime) -> bool:
        """Inside working hours of a business day (notifications go out only then)."""
        _require_aware(t)
        day = self._local_date(t)
        if not self.is_business_day(day):
            return False
        lo, hi = self._working_window(day)
        return lo <= t.astimezone(UTC) < hi

    def next_working_time(self, t: datetime) -> datetime:
        """`t` itself if it is working time, else the start of the next working window."""
        _require_aware(t)
        u = t.astimezone(UTC)
        day = self._local_date(u)
        for _ in range(_SEARCH_LIMIT_DAYS):
            if self.is_business_day(day):
                lo, hi = self._working_window(day)
                if u < hi:
                    return t if u >= lo else lo.astimezone(t.tzinfo)
            day += _ONE_DAY
        raise ValueError(f"no working time within {_SEARCH_LIMIT_DAYS} days of {t}")

    # --- configuration ----------------------------------------------------------------------

    @classmethod
    def from_config(cls, cfg: Any) -> BusinessCalendar:
        """Build from a duck-typed config section (pydantic model, dataclass or plain dict).

        Accepts the whole repository config too (uses its `calendar` section). Tolerant:
        workdays as names (`mon`..`sun`, `monday`, ranges like `mon-fri`) or ints 0-6;
        times as `"HH:MM"` strings or `time`; closures as objects/dicts with `from_`/`from`
        and `to`, or (from, to) pairs; dates as `date` or ISO strings.
        """
        section = _field(cfg, "calendar")
        if section is not None and not isinstance(section, str | bool):
            cfg = section
        kwargs: dict[str, Any] = {}
        for name in ("timezone", "country", "subdivision"):
            value = _field(cfg, name)
            if value is not None:
                kwargs[name] = value
        workdays = _field(cfg, "workdays")
        if workdays is not None:
            kwargs["workdays"] = parse_workdays(workdays)
        closures = _field(cfg, "closures")
        if closures:
            kwargs["closures"] = [_parse_closure(c) for c in closures]
        hours = _field(cfg, "working_hours")
        if hours is not None:
            kwargs["working_hours"] = _parse_working_hours(hours)
        extra = _field(cfg, "extra_holidays")
        if extra:
            kwargs["extra_holidays"] = [_parse_extra_holiday(x) for x in extra]
        worked = _field(cfg, "working_days")
        if worked:
            kwargs["working_days"] = [_parse_working_day(x) for x in worked]
        return cls(**kwargs)


# --- tolerant parsing helpers (used by from_config) -------------------------------------------


def _field(obj: Any, *names: str) -> Any:
    for name in names:
        value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _day_number(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"not a day: {value!r}")
    if isinstance(value, int):
        if not 0 <= value <= 6:
            raise ValueError(f"day number must be 0 (Monday) .. 6 (Sunday), got {value}")
        return value
    key = str(value).strip().lower()[:3]
    if key not in DAY_NAMES:
        raise ValueError(f"unknown day name {value!r} (use mon, tue, ... sun)")
    return DAY_NAMES[key]


def parse_workdays(values: Any) -> tuple[int, ...]:
    """Day names or numbers (0 = Monday) to sorted day numbers; `mon-fri` ranges allowed."""
    if isinstance(values, str | int):
        values = [values]
    days: set[int] = set()
    for value in values:
        if isinstance(value, str) and "-" in value:
            a, b = (_day_number(part) for part in value.split("-", 1))
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        else:
            days.add(_day_number(value))
    return tuple(sorted(days))


def parse_time(value: Any) -> time:
    """`time`, `"HH:MM"`, `"HH:MM:SS"` or an int hour."""
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return time(value)
    return time.fromisoformat(str(value).strip())


def parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


def _parse_closure(value: Any) -> Closure:
    if isinstance(value, list | tuple):
        start, end = value
    else:
        start, end = _field(value, "from_", "from", "start"), _field(value, "to", "end", "until")
        if start is None:
            raise ValueError(f"closure without a start date: {value!r}")
        end = start if end is None else end
    return parse_date(start), parse_date(end)


def _parse_working_hours(value: Any) -> tuple[time, time]:
    start: Any
    end: Any
    if isinstance(value, str):
        start, end = value.split("-", 1)
    elif isinstance(value, list | tuple):
        start, end = value
    else:
        start, end = _field(value, "start"), _field(value, "end")
        start = DEFAULT_WORKING_HOURS[0] if start is None else start
        end = DEFAULT_WORKING_HOURS[1] if end is None else end
    return parse_time(start), parse_time(end)


def _parse_extra_holiday(value: Any) -> date | tuple[int, int]:
    """A date (`2026-09-28`) or a recurring `MM-DD` (`09-27`)."""
    if isinstance(value, date | list | tuple):
        return value if isinstance(value, date) else (int(value[0]), int(value[1]))
    text = str(value).strip()
    if len(text) == 5 and text[2] == "-":
        return int(text[:2]), int(text[3:])
    return parse_date(text)


def _parse_working_day(value: Any) -> date | tuple[int, int] | str:
    """A date, a recurring `MM-DD`, or a holiday's name."""
    if isinstance(value, date | list | tuple):
        return _parse_extra_holiday(value)
    text = str(value).strip()
    if _DAY_RE.match(text):
        return _parse_extra_holiday(text)
    return text
