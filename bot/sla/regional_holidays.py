"""What the `holidays` package lacks or gets wrong for Veilleur's users, in one place.

- Subdivision codes people actually write: the départements of Alsace-Moselle ("67" Bas-Rhin,
  "68" Haut-Rhin) share the local holidays `holidays` files under "6AE" (Alsace); "57"
  (Moselle) is known as is. Belgian communities by their own names ("Vlaamse Gemeenschap",
  "Fédération Wallonie-Bruxelles", "Ostbelgien"...).
- Belgium's community holidays, which `holidays` does not give for its `BE` subdivisions
  "French", "Flemish" and "German": 27 September (French Community, the September Days of
  1830), 11 July (Flemish Community, the Battle of the Golden Spurs of 1302), 15 November
  (German-speaking Community, the King's Feast). Built in, so that no Walloon or Flemish body
  has to list them by hand.
- School holiday zones ("Zone A", "Zone B", "Zone C" in France) are offered by `holidays` as
  subdivisions but change no public holiday: refused with a message saying what to use.
- Holiday names in every language `holidays` has for the country, so that
  `calendar.working_days` can name a holiday ("Lundi de Pentecôte", "Whit Monday"...).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import cache

from bot import lean_holidays

holidays_lib = lean_holidays.load()  # only the countries asked for are imported

# (country, any spelling, case-insensitive) -> the subdivision code `holidays` knows
_ALIASES: dict[str, dict[str, str]] = {
    "FR": {"67": "6AE", "68": "6AE", "bas-rhin": "6AE", "haut-rhin": "6AE"},
    "BE": {
        "french community": "French", "communauté française": "French",
        "fédération wallonie-bruxelles": "French", "wallonie-bruxelles": "French",
        "flemish community": "Flemish", "vlaamse gemeenschap": "Flemish",
        "vlaanderen": "Flemish",
        "german-speaking community": "German", "deutschsprachige gemeinschaft": "German",
        "ostbelgien": "German",
    },
}  # fmt: skip

_REFUSED: dict[str, dict[str, str]] = {
    "FR": {
        zone: "school holiday zones are not public holidays; leave `subdivision` empty and "
        "list the days your office closes under `closures`"
        for zone in ("zone a", "zone b", "zone c")
    },
}

# (country, subdivision) -> (month, day, name) every year
COMMUNITY_DAYS: dict[tuple[str, str], tuple[tuple[int, int, str], ...]] = {
    ("BE", "French"): ((9, 27, "Fête de la Fédération Wallonie-Bruxelles"),),
    ("BE", "Flemish"): ((7, 11, "Feestdag van de Vlaamse Gemeenschap"),),
    ("BE", "German"): ((11, 15, "Tag der Deutschsprachigen Gemeinschaft"),),
}

NAME_YEARS = range(2020, 2041)  # years searched for a holiday named in `working_days`


def resolve_subdivision(country: str | None, subdivision: str | None) -> str | None:
    """The `holidays` code for what a user wrote, or ValueError saying what to write."""
    if not country:
        return subdivision or None
    country = country.upper()
    if not subdivision:
        try:
            holidays_lib.country_holidays(country, years=[])
        except (NotImplementedError, KeyError):
            raise ValueError(f"no public holidays known for country {country!r}") from None
        return None
    key = subdivision.strip().casefold()
    refused = _REFUSED.get(country, {}).get(key)
    if refused:
        raise ValueError(f"{subdivision!r}: {refused}")
    code = _ALIASES.get(country, {}).get(key, subdivision.strip())
    try:  # the library decides the rest (it also takes its own aliases: "Alsace", "Moselle")
        holidays_lib.country_holidays(country, subdiv=code, years=[])
    except (NotImplementedError, KeyError):  # how `holidays` refuses a code it lacks
        raise ValueError(f"unknown subdivision of {country} (known: {_known(country)})") from None
    return code


def _known(country: str) -> str:
    known = country in lean_holidays.country_codes()  # as list_supported_countries()
    codes = list(getattr(holidays_lib, country).subdivisions) if known else []
    refused = _REFUSED.get(country, {})
    shown = [c for c in codes if c.casefold() not in refused]
    shown += [a for a in _ALIASES.get(country, {}) if a.isdigit()]
    return ", ".join(shown) or "none"


def _community_code(country: str, subdivision: str | None) -> str | None:
    """The subdivision as `COMMUNITY_DAYS` keys it (`holidays` may take other spellings)."""
    if subdivision is None:
        return None
    for c, sub in COMMUNITY_DAYS:
        if c == country and sub.casefold() == subdivision.casefold():
            return sub
    return None


def public_holidays(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    """Public holidays of one year: `holidays`' own plus the built-in community days."""
    found = dict(holidays_lib.country_holidays(country, subdiv=subdivision, years=year).items())
    for month, day, name in COMMUNITY_DAYS.get(
        (country, _community_code(country, subdivision) or ""), ()
    ):
        found.setdefault(date(year, month, day), name)
    return found


def _names(country: str, subdivision: str | None, years: int | range) -> dict[date, frozenset[str]]:
    """Every name (case-folded) of each holiday, in every language `holidays` has for the
    country, plus the built-in community days."""
    base = holidays_lib.country_holidays(country, subdiv=subdivision, years=[])
    names: dict[date, set[str]] = {}
    for language in [None, *getattr(base, "supported_languages", ())]:
        found = holidays_lib.country_holidays(
            country, subdiv=subdivision, years=years, language=language
        )
        for day, text in found.items():
            names.setdefault(day, set()).update(n.strip().casefold() for n in text.split(";"))
    for year in [years] if isinstance(years, int) else years:
        for day, text in public_holidays(country, subdivision, year).items():
            names.setdefault(day, set()).add(text.casefold())
    return {day: frozenset(n) for day, n in names.items()}


_names_of_year = cache(_names)


def named_days(
    country: str, subdivision: str | None, year: int, names: Iterable[str]
) -> frozenset[date]:
    """The holidays of `year` called by one of `names` (any supported language)."""
    wanted = {n.strip().casefold() for n in names}
    if not wanted:
        return frozenset()
    found = _names_of_year(country, subdivision, year)
    return frozenset(day for day, known in found.items() if known & wanted)


@cache
def holiday_names(country: str, subdivision: str | None) -> frozenset[str]:
    """Every holiday name known for the place over `NAME_YEARS` (to validate a config)."""
    return frozenset(
        n for known in _names(country, subdivision, NAME_YEARS).values() for n in known
    )
