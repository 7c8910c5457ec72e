"""The shape of `.github/veilleur.yml`: strict pydantic models, one per section.

Unknown keys are errors (`extra="forbid"`) so a typo never silently disables a feature.
Defaults here equal `config/default.yml` (a test keeps them in step); messages raised by the
validators are written for the maintainer who edits the file.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_serializer,
    field_validator,
)

_LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_TEAM_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9-]{0,38}/)?[A-Za-z0-9][A-Za-z0-9._-]*$")
_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]+$")
_DOMAIN_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$")
_OSPO_TEAM_RE = re.compile(r"^@?[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")
_LANG_RE = re.compile(r"^[a-z]{2}$")
# A GitHub owner (`paris`) or a forge-qualified group (`gitlab.example.org/city/sub`): each
# repetition starts with its own separator, so matching stays linear.
_OWNER_RE = re.compile(
    r"^(?:[A-Za-z0-9][A-Za-z0-9-]{0,38}"
    r"|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9][a-z0-9-]*)+(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)+)$"
)
_DAY_RE = re.compile(r"^(\d{4}-)?\d{2}-\d{2}$")
_HHMM_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::00)?$")


def _check_day(text: str) -> None:
    """A `YYYY-MM-DD` or `MM-DD` that is a real day."""
    try:
        date.fromisoformat(text if len(text) == 10 else f"2000-{text}")
    except ValueError:
        raise ValueError(f"{text!r} is not a day (YYYY-MM-DD or MM-DD)") from None


def _strip_at(value: Any) -> Any:
    return value.strip().lstrip("@") if isinstance(value, str) else value


def _matching(pattern: re.Pattern[str], what: str, lower: bool = False) -> AfterValidator:
    def check(value: str) -> str:
        value = value.strip()
        if lower:
            value = value.lower()
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


Login = Annotated[str, BeforeValidator(_strip_at), _matching(_LOGIN_RE, "a GitHub login")]
TeamSlug = Annotated[
    str, BeforeValidator(_strip_at), _matching(_TEAM_RE, "a team slug like 'maintainers'")
]


def _email(value: str) -> str:
    """`local@domain.tld` checked by hand: the regex it replaces backtracked on `a@....` (a pull
    request's configuration is checked, so anyone can send one)."""
    value = value.strip().lower()
    local, _, domain = value.partition("@")
    if not local or "@" in domain or "." not in domain[1:-1] or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


Email = Annotated[str, AfterValidator(_email)]
Domain = Annotated[
    str, BeforeValidator(_strip_at), _matching(_DOMAIN_RE, "a domain name", lower=True)
]
Owner = Annotated[
    str,
    Field(max_length=200),
    _matching(_OWNER_RE, "an organisation like 'lyon' or a group like 'gitlab.example.org/city'"),
]
Lang = Annotated[str, _matching(_LANG_RE, "a two-letter language code like 'fr'", lower=True)]
LabelName = Annotated[str, Field(min_length=1, max_length=50)]
Days = Annotated[int, Field(ge=1, le=365)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Strict(BaseModel):
    """Base of every section: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Maintainers(Strict):
    users: list[Login] = []
    teams: list[TeamSlug] = []


class Partner(Strict):
    name: Annotated[str, Field(min_length=1, max_length=40)]
    github_orgs: list[Login] = []
    logins: list[Login] = []
    email_domains: list[Domain] = []
    internal: bool = False


class Labels(Strict):
    external: LabelName = "external"
    first_time: LabelName = "first-time-contributor"
    needs_triage: LabelName = "needs-triage"
    awaiting_maintainer: LabelName = "awaiting-maintainer"
    awaiting_author: LabelName = "awaiting-author"
    overdue: LabelName = "overdue"
    partner_prefix: Annotated[str, Field(max_length=30)] = "partner: "

    def partner(self, name: str) -> str:
        """The label of a partner, cut to GitHub's 50-character limit."""
        return (self.partner_prefix + name)[:50]


class PathArea(Strict):
    glob: Annotated[str, Field(min_length=1)]
    label: LabelName


class KeywordArea(Strict):
    label: LabelName
    words: dict[Lang, list[Annotated[str, Field(min_length=1)]]]


class Areas(Strict):
    paths: list[PathArea] = []
    keywords: list[KeywordArea] = []


class Welcome(Strict):
    enabled: bool = True
    issues: bool = True
    pull_requests: bool = True


class RequestInfo(Strict):
    enabled: bool = True
    required_sections: list[Annotated[str, Field(min_length=1)]] = []
    min_body_chars: Annotated[int, Field(ge=0, le=10_000)] = 40


class PrChecklist(Strict):
    enabled: bool = True
    tests: bool = True
    changelog: bool = False
    dco: bool = False
    linked_issue: bool = False
    test_globs: list[str] = [
        "tests/**",
        "test/**",
        "**/test_*",
        "**/*_test.*",
        "**/*.test.*",
        "**/*.spec.*",
    ]
    changelog_files: list[str] = ["CHANGELOG.md", "CHANGES.md", "NEWS.md", "changelog.d/**"]


class Closure(Strict):
    from_: date = Field(alias="from")
    to: date
    reason: str | None = None

    @field_validator("to")
    @classmethod
    def _after_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("from_")
        if start is not None and value < start:
            raise ValueError(f"ends ({value}) before it starts ({start})")
        return value


def _hhmm(value: Any) -> Any:
    if isinstance(value, time):
        return value
    match = _HHMM_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f'{value!r} is not a time like "09:00" (quote it)')
    return time(int(match.group(1)), int(match.group(2)))


class WorkingHours(Strict):
    start: Annotated[time, BeforeValidator(_hhmm)] = time(9, 0)
    end: Annotated[time, BeforeValidator(_hhmm)] = time(18, 0)

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("start")
        if start is not None and value <= start:
            raise ValueError(f"must be later than start ({start:%H:%M})")
        return value

    @field_serializer("start", "end")
    def _dump(self, value: time) -> str:
        return value.strftime("%H:%M")


def _countries() -> frozenset[str]:
    from bot.lean_holidays import country_codes  # heavy; only when a config is validated

    return country_codes()


class Calendar(Strict):
    timezone: str = "Europe/Paris"
    country: str = "FR"
    subdivision: str | None = None
    workdays: Annotated[list[Weekday], Field(min_length=1)] = ["mon", "tue", "wed", "thu", "fri"]
    closures: list[Closure] = []
    working_hours: WorkingHours = WorkingHours()
    # Local days off neither `holidays` nor `bot.sla.regional_holidays` knows:
    # "MM-DD" recurs every year, "YYYY-MM-DD" is one day.
    extra_holidays: list[Annotated[str, Field(pattern=r"^(\d{4}-)?\d{2}-\d{2}$")]] = []
    # Days worked although they are public holidays (or weekend days): "YYYY-MM-DD", a
    # recurring "MM-DD", or a holiday's name ("Lundi de Pentecôte", the journée de solidarité).
    working_days: list[Annotated[str, Field(min_length=1, max_length=80)]] = []

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris)") from None
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in _countries():
            raise ValueError(f"no public holidays known for country {value!r} (e.g. FR, BE)")
        return value

    @field_validator("subdivision")
    @classmethod
    def _subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("country")
        if value is None or country is None:
            return value
        from bot.sla.regional_holidays import resolve_subdivision

        resolve_subdivision(country, value)  # its ValueError says what to write instead
        return value

    @field_validator("working_days")
    @classmethod
    def _worked(cls, values: list[str], info: ValidationInfo) -> list[str]:
        from bot.sla.regional_holidays import holiday_names, resolve_subdivision

        for v in values:
            if _DAY_RE.match(v.strip()):
                _check_day(v.strip())
        country = info.data.get("country")
        names = [v for v in values if not _DAY_RE.match(v.strip())]
        if not names or country is None or "subdivision" not in info.data:
            return values
        known = holiday_names(country, resolve_subdivision(country, info.data["subdivision"]))
        unknown = [n for n in names if n.strip().casefold() not in known]
        if unknown:
            raise ValueError(
                f"no holiday of {country} is called {unknown[0]!r} (use a date like "
                f'"2026-05-25", or a name from the `holidays` package, e.g. "Lundi de Pentecôte")'
            )
        return values


class Sla(Strict):
    enabled: bool = True
    first_response_days: Days = 3
    follow_up_days: Days = 5
    remind_every_days: Days = 2
    escalate_after_days: Days = 10
    max_reminders: Annotated[int, Field(ge=0, le=50)] = 3
    max_mentions_per_person_per_day: Annotated[int, Field(ge=1, le=100)] = 5
    drafts_wait: bool = False  # false: a draft pull request waits from ready_for_review on
    # item: one reminder comment on each overdue item; daily: one list a day per person.
    reminders: Literal["item", "daily"] = "item"
    max_reminders_per_sweep_per_repo: Annotated[int, Field(ge=1, le=1000)] = 10
    max_reminders_per_sweep_per_org: Annotated[int, Field(ge=1, le=10_000)] = 50
    # Reminders in a row that nobody answered (no human activity on the item since): past
    # this, no new reminder until someone acts (the escalation still comes).
    max_unanswered_reminders: Annotated[int, Field(ge=1, le=50)] = 1

    @field_validator("escalate_after_days")
    @classmethod
    def _after_first_response(cls, value: int, info: ValidationInfo) -> int:
        first = info.data.get("first_response_days")
        if first is not None and value < first:
            raise ValueError(f"must not be less than first_response_days ({first})")
        return value


def _zone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris)") from None
    return value


class Absence(Strict):
    """A span of days (both included) when a person is not reminded of anything."""

    from_: date = Field(alias="from")
    to: date

    @field_validator("to")
    @classmethod
    def _after_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("from_")
        if start is not None and value < start:
            raise ValueError(f"ends ({value}) before it starts ({start})")
        return value


class Person(Strict):
    """One person's own hours and absences; reminders follow them (bot/sla/availability.py)."""

    timezone: Annotated[str, AfterValidator(_zone_name)] | None = None
    away: list[Absence] = []


class Attention(Strict):
    """How much Veilleur may say (bot/sla/attention_budget.py)."""

    max_bot_comment_share: Annotated[float, Field(gt=0, le=1)] = 0.25
    max_mentions_per_person_per_week: Annotated[int, Field(ge=1, le=500)] = 5


class Ospo(Strict):
    team: Annotated[str, _matching(_OSPO_TEAM_RE, "a team like @org/ospo")] | None = None
    repository: Annotated[str, _matching(_REPO_RE, "a repository like org/ospo")] | None = None
    emails: list[Email] = []
    # Owners whose repositories this OSPO oversees too (its digest and dashboard): GitHub
    # organisations or GitLab groups. Read from the organisation's own file only.
    members: list[Owner] = []
    # The OSPOs this owner consents to be a member of: an OSPO's `members` entry is honoured
    # only when that owner's own file names the OSPO here (bot/digest/ospo.py). Own file only.
    shared_with: list[Owner] = []


class Stale(Strict):
    enabled: bool = False
    nudge_after_days: Days = 10
    close_after_days: Days = 20

    @field_validator("close_after_days")
    @classmethod
    def _after_nudge(cls, value: int, info: ValidationInfo) -> int:
        nudge = info.data.get("nudge_after_days")
        if nudge is not None and value <= nudge:
            raise ValueError(f"must be more than nudge_after_days ({nudge})")
        return value


class Schedule(Strict):
    day: Weekday = "mon"
    hour: Annotated[int, Field(ge=0, le=23)] = 9


class Digest(Strict):
    enabled: bool = False
    schedule: Schedule = Schedule()
    emails: list[Email] = []
    language: Literal["en", "fr", "nl", "de"] = "en"
    pseudonymise: bool = False


class Dashboard(Strict):
    public_people: bool = False


class Commands(Strict):
    enabled: bool = True


class Bots(Strict):
    """Machine users running as ordinary accounts: bots everywhere."""

    logins: list[Login] = []


class VeilleurConfig(Strict):
    """The merged configuration of one repository."""

    languages: Annotated[list[Lang], Field(min_length=1)] = ["en", "fr", "nl", "de"]
    language: Lang = "en"
    maintainers: Maintainers = Maintainers()
    partners: list[Partner] = []
    labels: Labels = Labels()
    areas: Areas = Areas()
    welcome: Welcome = Welcome()
    request_info: RequestInfo = RequestInfo()
    pr_checklist: PrChecklist = PrChecklist()
    ignore_bots: bool = True
    bots: Bots = Bots()
    dry_run: bool = False
    calendar: Calendar = Calendar()
    sla: Sla = Sla()
    ospo: Ospo = Ospo()
    stale: Stale = Stale()
    digest: Digest = Digest()
    commands: Commands = Commands()
    dashboard: Dashboard = Dashboard()
    people: dict[Login, Person] = {}
    attention: Attention = Attention()

    @field_validator("language")
    @classmethod
    def _offered(cls, value: str, info: ValidationInfo) -> str:
        offered = info.data.get("languages")
        if offered is not None and value not in offered:
            raise ValueError(f"{value!r} is not one of languages ({', '.join(offered)})")
        return value
