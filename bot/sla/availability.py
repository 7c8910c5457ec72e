"""Who can be reminded now: people's own time zones and absences (pure).

Absences come from two places: `people.<login>.away` in the configuration, and the
`/away until DATE` command a person runs for themselves (recorded on the timeline as an
`away` entry; `/away off` ends it). While someone is away, a reminder goes to the next
responsible person instead; a reminder is only sent inside its recipient's working hours,
in the recipient's time zone when they set one (the repository's otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.sla.calendar import BusinessCalendar
from bot.sla.codeowners import mention_handles

AWAY_KIND = "away"  # timeline kind of `/away` (detail: {"by", "until": "YYYY-MM-DD" | None})


@dataclass(frozen=True)
class PeopleBook:
    """Everything known about people's availability, for one repository at one sweep."""

    people: Mapping[str, Any] = field(default_factory=dict)  # login -> config `Person`
    commanded: Mapping[str, date | None] = field(default_factory=dict)  # `/away`: last until
    calendars: dict[str, BusinessCalendar] = field(default_factory=dict, compare=False)

    def _person(self, login: str) -> Any:
        low = login.lower()
        return next((p for k, p in self.people.items() if k.lower() == low), None)

    def is_away(self, login: str, day: date) -> bool:
        """Away on `day` (the person's local day): a configured absence or a `/away` running."""
        until = self.commanded.get(login.lower())
        if until is not None and day <= until:
            return True
        person = self._person(login)
        return any(a.from_ <= day <= a.to for a in getattr(person, "away", ()) or ())

    def calendar_for(self, login: str, base: BusinessCalendar, cal_cfg: Any) -> BusinessCalendar:
        """The repository's calendar, moved to the person's own time zone if they set one."""
        person = self._person(login)
        zone = getattr(person, "timezone", None)
        if not zone or cal_cfg is None:
            return base
        if zone not in self.calendars:
            copy = getattr(cal_cfg, "model_copy", None)
            moved = copy(update={"timezone": zone}) if copy else {**cal_cfg, "timezone": zone}
            self.calendars[zone] = BusinessCalendar.from_config(moved)
        return self.calendars[zone]

    def local_day(self, login: str, at: datetime, base: BusinessCalendar, cal_cfg: Any) -> date:
        return at.astimezone(self.calendar_for(login, base, cal_cfg).tz).date()


def commanded_absences(entries: Iterable[Any]) -> dict[str, date | None]:
    """The last `/away` of each person (entries in time order): until when, or None (off)."""
    out: dict[str, date | None] = {}
    for e in entries:
        if e.kind != AWAY_KIND or not e.actor_login:
            continue
        until = (e.detail or {}).get("until")
        try:
            out[e.actor_login.lower()] = date.fromisoformat(str(until)) if until else None
        except ValueError:
            continue
    return out


def route(
    groups: Sequence[Sequence[str]],
    at: datetime,
    book: PeopleBook,
    base: BusinessCalendar,
    cal_cfg: Any,
) -> list[str]:
    """Whom to remind: the people of the first group (assignees, reviewers, code owners,
    maintainers, teams: most specific first) with someone not away, those not away only.
    A team (`org/team`) is never away."""

    def present(handle: str) -> bool:
        login = handle.lstrip("@")
        if "/" in login:
            return True
        return not book.is_away(login, book.local_day(login, at, base, cal_cfg))

    for group in groups:
        here = [p for p in mention_handles(group) if present(p)]
        if here:
            return here
    return []


def in_working_hours(
    handle: str, at: datetime, book: PeopleBook, base: BusinessCalendar, cal_cfg: Any
) -> bool:
    """Whether `at` is inside the person's working hours (a team: the repository's)."""
    login = handle.lstrip("@")
    cal = base if "/" in login else book.calendar_for(login, base, cal_cfg)
    return cal.is_working_time(at)
