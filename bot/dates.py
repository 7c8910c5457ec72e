"""Dates and times written for people, in their language (Babel's CLDR patterns).

"by Tuesday, 15 July 2026, 14:00" reads right in each language ("mardi 15 juillet 2026,
14:00", "Dienstag, 15. Juli 2026, 14:00"); English uses the British order, as the
organisations Veilleur serves are European.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from fractions import Fraction
from typing import Any

_LOCALES = {"en": "en_GB"}


def _locale(lang: str) -> str:
    return _LOCALES.get(lang, lang)


@functools.cache
def _datetime_pattern(locale: str) -> str:
    from babel.dates import get_date_format, get_datetime_format, get_time_format

    joined = str(get_datetime_format("long", locale))
    day = get_date_format("full", locale).pattern
    return joined.replace("{1}", day).replace("{0}", get_time_format("short", locale).pattern)


def long_date(value: date, lang: str) -> str:
    """`Tuesday, 15 July 2026` in `lang`."""
    from babel.dates import format_date

    day = value.date() if isinstance(value, datetime) else value
    return str(format_date(day, "full", locale=_locale(lang)))


def long_datetime(value: datetime, lang: str) -> str:
    """`Tuesday, 15 July 2026, 14:00` in `lang`, at the wall-clock time `value` carries
    (convert it to the repository's time zone first)."""
    from babel.dates import format_datetime

    locale = _locale(lang)
    return str(
        format_datetime(value, _datetime_pattern(locale), tzinfo=value.tzinfo, locale=locale)
    )


def answer_by(opened_at: datetime, cfg: Any) -> datetime:
    """When the first answer to an item opened at `opened_at` is due: `first_response_days`
    business days of the repository's calendar later, on the repository's wall clock."""
    from bot.calendar import BusinessCalendar

    calendar = BusinessCalendar.from_config(cfg.calendar)
    due = calendar.add_business_days(opened_at, Fraction(cfg.sla.first_response_days))
    return due.astimezone(calendar.tz)
