"""Business time: exact cases (holidays, DST, closures) and properties that must always hold."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from fractions import Fraction
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sla.calendar import BusinessCalendar, parse_workdays

PARIS = ZoneInfo("Europe/Paris")
BRUSSELS = ZoneInfo("Europe/Brussels")
FR = BusinessCalendar()
AUGUST = BusinessCalendar(closures=[(date(2026, 8, 3), date(2026, 8, 21))])
EVERY_DAY = BusinessCalendar(workdays=range(7), country=None)


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


# --- exact cases ------------------------------------------------------------------------------


def test_bastille_day_two_day_sla() -> None:
    opened = paris(2026, 7, 10, 16)  # Friday
    due = FR.add_business_days(opened, 2)
    assert due == paris(2026, 7, 15, 16)  # Wednesday: weekend and Tuesday 14 July skipped
    assert FR.business_days_between(opened, due) == 2.0
    assert FR.business_days_between(opened, due - timedelta(microseconds=1)) < 2.0
    assert FR.business_days_between(paris(2026, 7, 14), paris(2026, 7, 15)) == 0.0


def test_ascension_and_whit_monday_2026() -> None:
    assert FR.is_holiday(date(2026, 5, 14)) and not FR.is_business_day(date(2026, 5, 14))
    assert FR.is_holiday(date(2026, 5, 25)) and not FR.is_business_day(date(2026, 5, 25))
    # Wednesday noon -> Friday noon across Ascension Thursday: one business day.
    assert FR.business_days_between(paris(2026, 5, 13, 12), paris(2026, 5, 15, 12)) == 1.0
    # Friday noon -> Tuesday noon across Whit Monday: one business day.
    assert FR.business_days_between(paris(2026, 5, 22, 12), paris(2026, 5, 26, 12)) == 1.0
    assert FR.add_business_days(paris(2026, 5, 22, 12), 1) == paris(2026, 5, 26, 12)


def test_regional_holiday_from_the_package_alsace_moselle() -> None:
    """FR subdivision 57 (Moselle) has Good Friday; the rest of France does not."""
    moselle = BusinessCalendar(subdivision="57")
    good_friday = date(2026, 4, 3)
    assert moselle.is_holiday(good_friday)
    assert not FR.is_holiday(good_friday)
    assert moselle.business_days_between(paris(2026, 4, 3), paris(2026, 4, 4)) == 0.0
    assert FR.business_days_between(paris(2026, 4, 3), paris(2026, 4, 4)) == 1.0


def test_belgian_regional_day_wallonia_vs_flanders() -> None:
    """BE subdivisions in `holidays` are the Communities and carry none of their own days:
    the French Community day (27 Sep) and the Flemish day (11 Jul) are built in
    (`bot.sla.regional_holidays`)."""
    base = {"timezone": "Europe/Brussels", "country": "BE"}
    wallonia = BusinessCalendar.from_config({**base, "subdivision": "French"})
    flanders = BusinessCalendar.from_config({**base, "subdivision": "Flemish"})
    national = BusinessCalendar.from_config(base)
    monday = date(2027, 9, 27)
    assert wallonia.is_holiday(monday) and not wallonia.is_business_day(monday)
    assert flanders.is_business_day(monday) and national.is_business_day(monday)
    assert flanders.is_holiday(date(2025, 7, 11)) and not wallonia.is_holiday(date(2025, 7, 11))
    for cal in (wallonia, flanders, national):  # the national day holds everywhere
        assert cal.is_holiday(date(2026, 7, 21))
    span = (datetime(2027, 9, 24, 12, tzinfo=BRUSSELS), datetime(2027, 9, 28, 12, tzinfo=BRUSSELS))
    assert wallonia.business_days_between(*span) == 1.0
    assert flanders.business_days_between(*span) == 2.0


def test_unknown_subdivision_is_refused() -> None:
    with pytest.raises(ValueError):
        BusinessCalendar(country="FR", subdivision="Atlantis")


def test_october_dst_change() -> None:
    friday, monday = paris(2026, 10, 23, 16), paris(2026, 10, 26, 16)
    real = monday.astimezone(UTC) - friday.astimezone(UTC)
    assert real == timedelta(days=3, hours=1)  # the Sunday lasts 25 hours
    assert FR.business_days_between(friday, monday) == 1.0
    assert FR.working_hours_between(friday, monday) == 9.0  # Fri 16-18 + Mon 9-16
    assert FR.add_business_days(friday, 1) == monday
    # The 25-hour Sunday itself still counts as exactly one day, half of it as half a day.
    sunday, next_day = paris(2026, 10, 25), paris(2026, 10, 26)
    assert EVERY_DAY.business_days_between(sunday, next_day) == 1.0
    half = sunday.astimezone(UTC) + timedelta(hours=12, minutes=30)  # 11:30 local
    assert EVERY_DAY.business_days_between(sunday, half) == 0.5
    assert EVERY_DAY.add_business_days(sunday, 0.5) == paris(2026, 10, 25, 11, 30)
    # And the 23-hour Sunday of March.
    assert EVERY_DAY.business_days_between(paris(2026, 3, 29), paris(2026, 3, 30)) == 1.0
    assert EVERY_DAY.add_business_days(paris(2026, 3, 29), 0.5) == paris(2026, 3, 29, 12, 30)


def test_august_closure_adds_nothing() -> None:
    closure = BusinessCalendar.from_config(
        SimpleNamespace(closures=[SimpleNamespace(from_=date(2026, 8, 3), to=date(2026, 8, 21))])
    )
    assert closure.business_days_between(paris(2026, 8, 3), paris(2026, 8, 22)) == 0.0
    assert closure.working_hours_between(paris(2026, 8, 3), paris(2026, 8, 22)) == 0.0
    friday, monday = paris(2026, 7, 31, 16), paris(2026, 8, 24, 16)
    assert closure.business_days_between(friday, monday) == 1.0
    assert FR.business_days_between(friday, monday) == 16.0
    assert closure.add_business_days(friday, 1) == monday


def test_working_time_and_next_working_time() -> None:
    assert FR.is_working_time(paris(2026, 7, 10, 17, 59))
    assert not FR.is_working_time(paris(2026, 7, 10, 18))
    assert not FR.is_working_time(paris(2026, 7, 10, 8, 59))
    assert not FR.is_working_time(paris(2026, 7, 14, 10))  # Bastille Day
    assert FR.next_working_time(paris(2026, 7, 10, 18)) == paris(2026, 7, 13, 9)
    assert FR.next_working_time(paris(2026, 7, 13, 18, 30)) == paris(2026, 7, 15, 9)
    now = paris(2026, 7, 13, 11)
    assert FR.next_working_time(now) is now
    utc_in = datetime(2026, 7, 10, 20, tzinfo=UTC)
    out = FR.next_working_time(utc_in)
    assert out.tzinfo is UTC and out == paris(2026, 7, 13, 9)
    assert FR.working_hours_between(paris(2026, 7, 13, 8), paris(2026, 7, 16, 10)) == 19.0


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        FR.business_days_between(datetime(2026, 1, 5), paris(2026, 1, 6))
    with pytest.raises(ValueError):
        FR.add_business_days(datetime(2026, 1, 5), 1)


def test_from_config_is_tolerant() -> None:
    cfg = SimpleNamespace(
        calendar=SimpleNamespace(
            timezone="Europe/Paris",
            country="FR",
            subdivision=None,
            workdays=["mon", "Tuesday", 2, "THU"],
            closures=[{"from": "2026-12-24", "to": "2026-12-31"}],
            working_hours={"start": "08:30", "end": time(17)},
        )
    )
    cal = BusinessCalendar.from_config(cfg)  # the whole config: uses its calendar section
    assert cal.workdays == {0, 1, 2, 3}
    assert cal.working_hours == (time(8, 30), time(17))
    assert cal.is_closed(date(2026, 12, 28)) and not cal.is_closed(date(2027, 1, 4))
    assert not cal.is_business_day(date(2026, 7, 10))  # a Friday
    assert parse_workdays(["mon-fri"]) == (0, 1, 2, 3, 4)
    assert parse_workdays(["sat-mon"]) == (0, 5, 6)
    with pytest.raises(ValueError):
        parse_workdays(["someday"])
    default = BusinessCalendar.from_config({})
    assert default.workdays == {0, 1, 2, 3, 4} and default.timezone == "Europe/Paris"


# --- properties -------------------------------------------------------------------------------

CALENDARS = [FR, AUGUST, EVERY_DAY, BusinessCalendar("Europe/Brussels", "BE", workdays=(0, 2, 4))]
ZONES = [UTC, PARIS, timezone(timedelta(hours=-5)), ZoneInfo("America/New_York")]

instants = st.datetimes(
    min_value=datetime(2025, 12, 1),
    max_value=datetime(2027, 2, 1),
    timezones=st.sampled_from(ZONES),
    allow_imaginary=False,
)
calendars = st.sampled_from(CALENDARS)
amounts = st.fractions(min_value=0, max_value=40, max_denominator=10_000) | st.floats(0, 40)


def _sorted(*ts: datetime) -> list[datetime]:
    return sorted(ts, key=lambda t: t.astimezone(UTC))


@settings(deadline=None)
@given(calendars, instants, instants, instants)
def test_monotone_and_additive(
    cal: BusinessCalendar, x: datetime, y: datetime, z: datetime
) -> None:
    a, b, c = _sorted(x, y, z)
    ab, bc, ac = (cal.business_time_between(*p) for p in ((a, b), (b, c), (a, c)))
    assert 0 <= ab <= ac and 0 <= bc <= ac
    assert ac == ab + bc  # exact
    assert cal.business_days_between(a, c) == pytest.approx(
        cal.business_days_between(a, b) + cal.business_days_between(b, c)
    )
    assert cal.business_days_between(c, a) == 0.0
    # Never more than the calendar days touched.
    assert ac <= (c.astimezone(UTC) - a.astimezone(UTC)) / timedelta(days=1) + 2


@settings(deadline=None)
@given(calendars, instants, amounts)
def test_add_is_the_inverse_of_between(
    cal: BusinessCalendar, start: datetime, n: Fraction | float
) -> None:
    days = Fraction(n)
    due = cal.add_business_days(start, days)
    assert due.tzinfo is start.tzinfo
    assert cal.business_time_between(start, due) >= days
    if days > 0:
        assert cal.business_time_between(start, due - timedelta(microseconds=1)) < days
        assert cal.is_business_day(due.astimezone(cal.tz).date()) or due.astimezone(
            cal.tz
        ).time() == time(0)
    assert cal.business_days_between(start, due) == pytest.approx(float(days), abs=1e-9)


@settings(deadline=None)
@given(
    st.sampled_from(sorted(FR.holidays_in(2026) | FR.holidays_in(2025))),
    st.integers(0, 86_399),
    st.integers(0, 86_399),
)
def test_zero_over_holidays(day: date, s1: int, s2: int) -> None:
    start = datetime.combine(day, time(), tzinfo=PARIS)
    a, b = _sorted(start + timedelta(seconds=s1), start + timedelta(seconds=s2))
    assert FR.business_days_between(a, b) == 0.0
    assert FR.working_hours_between(a, b) == 0.0
    assert not FR.is_working_time(a)


@settings(deadline=None)
@given(instants, instants)
def test_zero_over_closures(x: datetime, y: datetime) -> None:
    lo, hi = paris(2026, 8, 3), paris(2026, 8, 22)
    a, b = _sorted(x, y)
    a, b = max(a, lo, key=lambda t: t.astimezone(UTC)), min(b, hi, key=lambda t: t.astimezone(UTC))
    assert AUGUST.business_days_between(a, b) == 0.0


@settings(deadline=None)
@given(calendars, instants)
def test_next_working_time_is_working_and_not_before(cal: BusinessCalendar, t: datetime) -> None:
    nxt = cal.next_working_time(t)
    assert nxt >= t and cal.is_working_time(nxt)
    if nxt != t:
        assert cal.working_hours_between(t, nxt) == 0.0
