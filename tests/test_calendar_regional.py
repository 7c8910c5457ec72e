"""Calendars beyond the `holidays` package: Belgian community days, Alsace-Moselle by
département, school zones refused, days worked despite a holiday (`working_days`); and the
digest's fast calendar agreeing with all of it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config.schema import VeilleurConfig
from bot.digest.fastcal import PrefixCalendar
from bot.sla.calendar import BusinessCalendar

PARIS = ZoneInfo("Europe/Paris")
BE = {"timezone": "Europe/Brussels", "country": "BE"}
COMMUNITIES = ("French", "Flemish", "German")


@pytest.mark.parametrize(
    ("community", "day"),
    [
        ("French", date(2027, 9, 27)),
        ("Flemish", date(2025, 7, 11)),
        ("German", date(2027, 11, 15)),
    ],
)
def test_each_belgian_community_has_its_own_day(community: str, day: date) -> None:
    assert day.weekday() < 5  # a day that would otherwise be worked
    for other in COMMUNITIES:
        cal = BusinessCalendar.from_config({**BE, "subdivision": other})
        assert cal.is_holiday(day) is (other == community), other
        assert cal.is_business_day(day) is (other != community), other
    assert BusinessCalendar.from_config(BE).is_business_day(day)  # not a national holiday


def test_belgian_communities_by_their_own_names() -> None:
    flemish = BusinessCalendar(
        timezone="Europe/Brussels", country="BE", subdivision="Vlaamse Gemeenschap"
    )
    assert flemish.subdivision == "Flemish" and flemish.is_holiday(date(2026, 7, 11))
    config = VeilleurConfig.model_validate(
        {"calendar": {**BE, "subdivision": "Fédération Wallonie-Bruxelles"}}
    )
    assert BusinessCalendar.from_config(config).is_holiday(date(2026, 9, 27))


@pytest.mark.parametrize("code", ["67", "68", "57", "Bas-Rhin", "Haut-Rhin"])
def test_alsace_moselle_by_departement(code: str) -> None:
    cal = BusinessCalendar(subdivision=code)
    good_friday, st_stephen = date(2026, 4, 3), date(2026, 12, 26)
    assert cal.is_holiday(good_friday) and cal.is_holiday(st_stephen)
    assert not BusinessCalendar().is_holiday(good_friday)
    config = VeilleurConfig.model_validate({"calendar": {"subdivision": code}})
    assert BusinessCalendar.from_config(config).is_holiday(good_friday)


@pytest.mark.parametrize("zone", ["Zone A", "Zone B", "zone c"])
def test_school_zones_are_refused_with_a_clear_message(zone: str) -> None:
    with pytest.raises(ValueError, match="school holiday zones are not public holidays"):
        BusinessCalendar(subdivision=zone)
    with pytest.raises(ValueError, match="closures"):
        VeilleurConfig.model_validate({"calendar": {"subdivision": zone}})


def test_unknown_subdivision_lists_the_departements() -> None:
    with pytest.raises(ValueError, match=r"known: .*57.*67, 68"):
        VeilleurConfig.model_validate({"calendar": {"subdivision": "99"}})


WHIT_MONDAY = date(2026, 5, 25)


@pytest.mark.parametrize(
    "worked",
    ["Lundi de Pentecôte", "lundi de pentecôte", "Pentecost Monday", "2026-05-25", "05-25"],
)
def test_a_holiday_worked_by_name_or_date(worked: str) -> None:
    config = VeilleurConfig.model_validate({"calendar": {"working_days": [worked]}})
    cal = BusinessCalendar.from_config(config)
    assert cal.is_business_day(WHIT_MONDAY) and not cal.is_holiday(WHIT_MONDAY)
    friday, tuesday = (
        datetime(2026, 5, 22, 12, tzinfo=PARIS),
        datetime(2026, 5, 26, 12, tzinfo=PARIS),
    )
    assert cal.business_days_between(friday, tuesday) == 2.0  # 1.0 without working_days
    assert cal.is_holiday(date(2026, 5, 14))  # Ascension is still a holiday


def test_a_worked_name_holds_every_year_and_a_date_only_once() -> None:
    by_name = BusinessCalendar(working_days=["Lundi de Pentecôte"])
    by_date = BusinessCalendar(working_days=[date(2026, 5, 25)])
    assert by_name.is_business_day(date(2027, 5, 17)) and not by_date.is_business_day(
        date(2027, 5, 17)
    )


def test_a_worked_saturday_counts_but_a_closure_wins() -> None:
    saturday = date(2026, 6, 6)
    cal = BusinessCalendar(
        working_days=[saturday, WHIT_MONDAY], closures=[(WHIT_MONDAY, WHIT_MONDAY)]
    )
    assert cal.is_business_day(saturday) and not cal.is_business_day(WHIT_MONDAY)


def test_an_unknown_holiday_name_is_refused() -> None:
    with pytest.raises(ValueError, match="no holiday of FR is called 'Lundi de Pâque'"):
        VeilleurConfig.model_validate({"calendar": {"working_days": ["Lundi de Pâque"]}})
    with pytest.raises(ValueError, match="is not a day"):
        VeilleurConfig.model_validate({"calendar": {"working_days": ["2026-02-30"]}})


@pytest.mark.parametrize(
    "section",
    [
        {"working_days": ["Lundi de Pentecôte", "2026-06-06"], "subdivision": "67"},
        {**BE, "subdivision": "German", "working_days": ["Pentecost Monday"]},
        {**BE, "subdivision": "Flemish"},
    ],
)
def test_the_digest_calendar_agrees(section: dict[str, object]) -> None:
    """`PrefixCalendar` (the digest's) answers as `BusinessCalendar` on every day and span."""
    slow, fast = BusinessCalendar.from_config(section), PrefixCalendar.from_config(section)
    tz = slow.tz
    start = datetime(2026, 1, 1, 10, tzinfo=tz)
    for k in range(0, 730, 1):
        day = date(2026, 1, 1) + timedelta(days=k)
        assert fast.is_business_day(day) == slow.is_business_day(day), day
    for k in range(0, 700, 7):
        a, b = start + timedelta(days=k, hours=k % 9), start + timedelta(days=k + 30, hours=3)
        assert fast.business_time_between(a, b) == slow.business_time_between(a, b)
        assert fast.working_hours_between(a, b) == slow.working_hours_between(a, b)
        assert fast.add_business_days(a, 12) == slow.add_business_days(a, 12)


def test_default_yml_says_what_the_code_does() -> None:
    """Work after `working_hours.end` counts the elapsed share of the day (not "from the next
    working day"), and partners' `email_domains` are those of the profile's public e-mail
    (the only e-mail read), not of commits."""
    from bot.resources import config_dir

    text = (config_dir() / "default.yml").read_text()
    assert "counts from the next working day" not in text
    assert "commit e-mail domains" not in text and "public e-mail on the author's GitHub" in text
    friday_evening = datetime(2026, 6, 5, 19, tzinfo=PARIS)
    due = BusinessCalendar().add_business_days(friday_evening, 2)
    assert due == datetime(2026, 6, 9, 19, tzinfo=PARIS)  # Tuesday 19:00, as documented
    assert BusinessCalendar().next_working_time(due) == datetime(2026, 6, 10, 9, tzinfo=PARIS)
