"""Words, plurals, numbers and dates in the bot's four languages (en, fr, nl, de), from CLDR
through Babel: no hand-written plural rule or month table anywhere.

The shared vocabulary (author classes, "independent", outcomes, the dashboard's sentences)
lives in `templates/web/<lang>.json`; plural messages are keys suffixed with a CLDR category
(`_one`, `_other`, and `_many` where the language has it, as French does for millions).
`template_helpers(lang)` gives the Markdown and digest templates the same tools.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from babel import Locale
from babel.dates import (
    format_date,
    format_datetime,
    format_time,
    get_date_format,
    get_datetime_format,
    get_time_format,
)
from babel.numbers import format_decimal, format_percent

from bot.resources import templates_dir

LANGUAGES = ("en", "fr", "nl", "de")
DEFAULT = "en"
# The CLDR locale of each language: British English (day month year, 24-hour clock), as the
# public bodies Veilleur serves write it.
LOCALES = {"en": "en_GB", "fr": "fr_FR", "nl": "nl_NL", "de": "de_DE"}
INDEPENDENT = "independent"  # bot.digest.metrics.INDEPENDENT: no organisation known


@functools.cache
def locale(lang: str) -> Locale:
    return Locale.parse(LOCALES.get(lang, LOCALES[DEFAULT]))


@functools.cache
def catalog(lang: str) -> Mapping[str, str]:
    """The messages of `templates/web/<lang>.json` ({} for a language without one)."""
    path = templates_dir() / "web" / f"{lang}.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return {str(k): str(v) for k, v in data.items()}


def plural_category(n: float, lang: str) -> str:
    """CLDR's plural category of `n` in `lang`: "one", "many", "other"..."""
    return str(locale(lang).plural_form(abs(n)))


def plural_categories(lang: str) -> frozenset[str]:
    """The categories a plural message must spell out in `lang` (CLDR's, e.g. fr: one, many,
    other)."""
    return frozenset(locale(lang).plural_form.tags) | {"other"}


def number(value: float | None, lang: str, digits: int = 1) -> str:
    """`value` with `digits` decimals, grouped as the language groups (1,234.5 / 1 234,5)."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return str(format_decimal(value, format=pattern, locale=locale(lang)))


def integer(value: int, lang: str) -> str:
    return number(value, lang, 0)


def percent(share: float | None, lang: str) -> str:
    if share is None:
        return "—"
    return str(format_percent(share, locale=locale(lang)))


def day(when: date | datetime | str | None, lang: str) -> str:
    """A date in words: 3 March 2025, 3 mars 2025, 3 maart 2025, 3. März 2025 (`when` may be
    an ISO date, as templates receive it)."""
    if when is None or when == "":
        return "—"
    if isinstance(when, str):
        when = date.fromisoformat(when[:10])
    return str(format_date(when, format="long", locale=locale(lang)))


def stamp(when: datetime | None, lang: str) -> str:
    """A date and time in UTC (the instant the figures were computed)."""
    if when is None:
        return "—"
    return f"{day(when, lang)}, {format_time(when, format='HH:mm', locale=locale(lang))} UTC"


@functools.cache
def _datetime_pattern(lang: str) -> str:
    """CLDR's long date-time joint, with the full date and the short time inside."""
    loc = locale(lang)
    joined = str(get_datetime_format("long", loc))
    full_day = get_date_format("full", loc).pattern
    return joined.replace("{1}", full_day).replace("{0}", get_time_format("short", loc).pattern)


def long_date(value: date | datetime, lang: str) -> str:
    """The day with its weekday: Tuesday, 15 July 2026 / mardi 15 juillet 2026 (a deadline
    reads better with its weekday than `day`'s bare date)."""
    when = value.date() if isinstance(value, datetime) else value
    return str(format_date(when, "full", locale=locale(lang)))


def long_datetime(value: datetime, lang: str) -> str:
    """Tuesday, 15 July 2026, 14:00 in `lang`, at the wall-clock time `value` carries (convert
    it to the repository's time zone first)."""
    return str(
        format_datetime(value, _datetime_pattern(lang), tzinfo=value.tzinfo, locale=locale(lang))
    )


def deadline(value: date | datetime | None, lang: str) -> str:
    """`long_datetime` for an instant, `long_date` for a day (the welcome's answer-by, the
    end of an absence)."""
    if value is None:
        return "—"
    if isinstance(value, str):  # ISO text, as data that went through JSON carries it
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return long_datetime(value, lang)
    return long_date(value, lang)


def word(key: str, lang: str) -> str:
    """A catalog entry in `lang`, else English, else the key (tests reject both fallbacks)."""
    return catalog(lang).get(key) or catalog(DEFAULT).get(key) or key


def author_class(value: str | None, lang: str) -> str:
    """An author class (external, partner, maintainer...) as words of the language."""
    return word(f"class_{value or 'external'}", lang)


def organisation(name: str | None, lang: str) -> str:
    """An organisation as shown: "independent" translated, any other name as its source wrote
    it."""
    if not name or name == INDEPENDENT:
        return word("org_independent", lang)
    return name


def plural_text(lang: str, n: float, forms: Mapping[str, str]) -> str:
    """The form for `n`'s CLDR category (else `other`), with `{n}` replaced by `n` formatted."""
    text = forms.get(plural_category(n, lang)) or forms["other"]
    shown = integer(int(n), lang) if float(n).is_integer() else number(n, lang)
    return text.replace("{n}", shown)


def template_helpers(lang: str) -> dict[str, Callable[..., Any]]:
    """Functions the message templates call, bound to the language being rendered:
    `plural(n, one=..., other=..., many=...)` with `{n}` in the forms, `number`, `percent`,
    `day`, `long_date` (a day or an instant with its weekday: `deadline`), `author_class`,
    `organisation`."""

    def plural(n: float, **forms: str) -> str:
        return plural_text(lang, n, forms)

    return {
        "plural": plural,
        "number": lambda value, digits=1: number(value, lang, digits),
        "percent": lambda share: percent(share, lang),
        "day": lambda when: day(when, lang),
        "long_date": lambda when: deadline(when, lang),
        "author_class": lambda value: author_class(value, lang),
        "organisation": lambda name: organisation(name, lang),
    }
