"""A `BusinessCalendar` whose long spans cost O(1): per-year prefix sums of business days.

The digest measures thousands of waits, some of them months long, and `BusinessCalendar`
walks every local day of a span. `PrefixCalendar` gives exactly the same results (same
`Fraction`s, same floats: a test compares them on random spans) by computing the first and
last local days as the base class does and counting the whole days in between from tables
built once per year.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

from bot.sla.calendar import BusinessCalendar

_US = timedelta(microseconds=1)
_SHORT_DAYS = 3  # working hours: spans over fewer local days go to the base class
_SEARCH_LIMIT_YEARS = 50
_SPAN_CACHE = 200_000  # spans remembered (waiting_state asks the same span up to 3 times)


class PrefixCalendar(BusinessCalendar):
    """Drop-in `BusinessCalendar` (build it with `from_config` or the same arguments)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tables: dict[int, tuple[list[int], list[int]]] = {}
        self._spans: dict[tuple[datetime, datetime], Fraction] = {}
        self._positions: dict[datetime, tuple[int, int, int]] = {}
        self._origin: int | None = None
        self._offsets: dict[int, int] = {}
        self._bounds: dict[date, tuple[datetime, datetime]] = {}
        self._windows: dict[date, tuple[datetime, datetime]] = {}

    def _day_bounds(self, day: date) -> tuple[datetime, datetime]:
        found = self._bounds.get(day)
        if found is None:
            found = self._bounds[day] = super()._day_bounds(day)
        return found

    def _working_window(self, day: date) -> tuple[datetime, datetime]:
        found = self._windows.get(day)
        if found is None:
            found = self._windows[day] = super()._working_window(day)
        return found

    def _year_tables(self, year: int) -> tuple[list[int], list[int]]:
        """(business days before each day of the year, working micros before each day)."""
        cached = self._tables.get(year)
        if cached is None:
            first = date(year, 1, 1)
            days = (date(year + 1, 1, 1) - first).days
            count, micros = [0] * (days + 1), [0] * (days + 1)
            for i in range(days):
                day = first + timedelta(days=i)
                business = super().is_business_day(day)
                count[i + 1] = count[i] + business
                if business:
                    lo, hi = self._working_window(day)
                    micros[i + 1] = micros[i] + (hi - lo) // _US
                else:
                    micros[i + 1] = micros[i]
            cached = self._tables[year] = (count, micros)
        return cached

    def is_business_day(self, day: date) -> bool:
        count, _ = self._year_tables(day.year)
        i = day.timetuple().tm_yday
        return count[i] > count[i - 1]

    def _whole_days(self, first: date, stop: date) -> tuple[int, int]:
        """Business days and working micros of the local days in [first, stop)."""
        days = micros = 0
        day = first
        while day < stop:
            count, us = self._year_tables(day.year)
            offset = day.timetuple().tm_yday - 1
            end_of_year = date(day.year + 1, 1, 1)
            upto = min(stop, end_of_year)
            last = offset + (upto - day).days
            days += count[last] - count[offset]
            micros += us[last] - us[offset]
            day = upto
        return days, micros

    def business_time_between(self, start: datetime, end: datetime) -> Fraction:
        """The base class's sum per local day, as the difference of two positions: business
        days before each instant's local day, plus the elapsed part of that day if it is a
        business day (the days in between count 1 each, as in the sum)."""
        if start.tzinfo is None or end.tzinfo is None:
            return super().business_time_between(start, end)  # raises the base class's error
        if end <= start:
            return Fraction(0)
        key = (start, end)  # aware datetimes hash and compare as instants
        cached = self._spans.get(key)
        if cached is not None:
            return cached
        days_s, part_s, len_s = self._position(start)
        days_e, part_e, len_e = self._position(end)
        if len_s == len_e:  # one exact fraction instead of three
            result = Fraction((days_e - days_s) * len_s + part_e - part_s, len_s)
        else:
            result = days_e - days_s + Fraction(part_e, len_e) - Fraction(part_s, len_s)
        if len(self._spans) < _SPAN_CACHE:
            self._spans[key] = result
        return result

    def _position(self, t: datetime) -> tuple[int, int, int]:
        """(business days before t's local day, micros of that day elapsed at t if it is a
        business day else 0, the day's length in micros), days counted from `_origin`."""
        found = self._positions.get(t)
        if found is not None:
            return found
        day = self._local_date(t)
        lo, hi = self._day_bounds(day)
        length = (hi - lo) // _US
        before = self._days_before(day)
        part = (t - lo) // _US if self.is_business_day(day) else 0
        found = (before, part, length)
        if len(self._positions) < _SPAN_CACHE:
            self._positions[t] = found
        return found

    def _days_before(self, day: date) -> int:
        """Business days from 1 January of `_origin` (the earliest year asked) to `day`."""
        if self._origin is None or day.year < self._origin:
            self._origin, self._offsets = day.year, {}
            self._positions.clear()  # their counts start from the old origin
        offset = self._offsets.get(day.year)
        if offset is None:
            offset = sum(self._year_tables(y)[0][-1] for y in range(self._origin, day.year))
            self._offsets[day.year] = offset
        count, _ = self._year_tables(day.year)
        return offset + count[day.timetuple().tm_yday - 1]

    def _nth_business_day(self, first: date, k: int) -> date | None:
        """The k-th (1-based) business day on or after `first`."""
        day = first
        for _ in range(_SEARCH_LIMIT_YEARS):
            count, _ = self._year_tables(day.year)
            offset = day.timetuple().tm_yday - 1
            available = count[-1] - count[offset]
            if available >= k:
                index = bisect_left(count, count[offset] + k) - 1
                return date(day.year, 1, 1) + timedelta(days=index)
            k -= available
            day = date(day.year + 1, 1, 1)
        return None

    def add_business_days(self, start: datetime, days: float | Fraction) -> datetime:
        """As the base class, but whole business days are skipped through the year tables."""
        target = Fraction(days)
        if start.tzinfo is None or target <= 1:
            return super().add_business_days(start, days)
        s = start.astimezone(UTC)
        day = self._local_date(s)
        acc = Fraction(0)
        if self.is_business_day(day):
            day_lo, hi = self._day_bounds(day)
            lo = max(day_lo, s)
            if hi > lo:
                acc = Fraction((hi - lo) // _US, (hi - day_lo) // _US)
        if acc >= target:
            return super().add_business_days(start, days)
        remaining = target - acc  # > 0: reached on the ceil(remaining)-th business day after
        whole = math.ceil(remaining) - 1
        found = self._nth_business_day(day + timedelta(days=1), whole + 1)
        if found is None:
            return super().add_business_days(start, days)  # raises as the base class does
        lo, hi = self._day_bounds(found)
        need = math.ceil((remaining - whole) * ((hi - lo) // _US))
        return (lo + need * _US).astimezone(start.tzinfo)

    def _window_overlap(self, day: date, s: datetime, e: datetime) -> int:
        if not self.is_business_day(day):
            return 0
        lo, hi = self._working_window(day)
        overlap = min(hi, e) - max(lo, s)
        return overlap // _US if overlap > timedelta(0) else 0

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        if start.tzinfo is None or end.tzinfo is None:
            return super().working_hours_between(start, end)  # raises the base class's error
        s, e = start.astimezone(UTC), end.astimezone(UTC)
        first, last = self._local_date(s), self._local_date(e)
        if e <= s or (last - first).days < _SHORT_DAYS:
            return super().working_hours_between(start, end)
        _, middle = self._whole_days(first + timedelta(days=1), last)
        micros = self._window_overlap(first, s, e) + middle + self._window_overlap(last, s, e)
        return micros / 3_600_000_000
