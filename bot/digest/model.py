"""The digest's data, shared by the CLI (md/json/html/csv), the weekly publication and the web
dashboard. Plain dataclasses; `to_json()` gives the documented JSON form.

JSON form (top-level keys at least): org, period{start,end}, metrics{time_to_first_response{
median_business_hours, p90_business_hours, ...}, new_contributors, ...}, waiting[{repo, number,
author, business_days_waiting}], organisations[{name, contributions}].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from bot.api_docs import described


@dataclass
class TimeToFirstResponse:
    __pydantic_config__ = described(
        'CHAOSS "Time to First Response", in business hours (working hours on business days).'
    )

    group: str  # "outside" | "inside"
    items: int  # items opened in the period
    answered: int
    unanswered: int  # still without a response at the end of the period (reported, never dropped)
    median_business_hours: float | None
    p90_business_hours: float | None
    within_sla_share: float | None  # answered within sla.first_response_days, over all items


@dataclass
class WaitingItem:
    repo: str
    number: int
    title: str
    author: str
    author_class: str
    organisation: str
    business_days_waiting: float
    overdue: bool
    kind: str  # issue | pull
    url: str | None = None


@dataclass
class Volume:
    issues_opened: int = 0
    issues_closed: int = 0
    pulls_opened: int = 0
    pulls_closed: int = 0
    pulls_merged: int = 0


@dataclass
class NewContributor:
    login: str
    organisation: str
    repo: str
    number: int
    kind: str
    outcome: str  # answered | merged | waiting | closed


@dataclass
class Returner:
    __pydantic_config__ = described(
        "A new contributor of the retention cohort, and whether they came back."
    )

    login: str
    organisation: str
    repo: str  # of their first contribution
    number: int
    first_at: datetime
    came_back: bool  # a second contribution within 12 weeks of the first
    second_at: datetime | None = None


@dataclass
class Retention:
    """CHAOSS retention: of the outside authors whose first contribution to the organisation
    was opened in [cohort_start, cohort_end) (the 12 weeks ending 12 weeks before the period
    end, so every one of them has had 12 weeks), those who opened a second one within 12
    weeks of their first."""

    cohort_start: datetime
    cohort_end: datetime
    contributors: list[Returner] = field(default_factory=list)

    @property
    def new(self) -> int:
        return len(self.contributors)

    @property
    def came_back(self) -> int:
        return sum(c.came_back for c in self.contributors)

    @property
    def share(self) -> float | None:
        return round(self.came_back / self.new, 4) if self.contributors else None

    def to_json(self) -> dict[str, Any]:
        return {
            "cohort_start": self.cohort_start.isoformat(),
            "cohort_end": self.cohort_end.isoformat(),
            "new_contributors": self.new,
            "came_back": self.came_back,
            "share": self.share,
            "contributors": [
                asdict(c)
                | {
                    "first_at": c.first_at.isoformat(),
                    "second_at": c.second_at.isoformat() if c.second_at else None,
                }
                for c in self.contributors
            ],
        }


@dataclass
class OrganisationShare:
    name: str  # partner name, company, or "independent"
    contributions: int
    new: bool = False  # first contribution in this period


@dataclass
class RepoHealth:
    repo: str
    open_outside_items: int
    oldest_wait_business_days: float | None
    ttfr_median_business_hours: float | None
    last_maintainer_response: datetime | None
    inactive: bool  # status == "unanswered" (kept for readers of the JSON form)
    status: str = "active"  # unanswered | quiet | active (bot.digest.assemble.health_status)


@dataclass
class TrendPoint:
    week: str  # YYYY-Www
    ttfr_median_business_hours: float | None
    outside_opened: int
    waiting_at_end: int


@dataclass
class Digest:
    org: str
    week: str
    start: datetime
    end: datetime
    generated_at: datetime
    ttfr_outside: TimeToFirstResponse
    ttfr_inside: TimeToFirstResponse
    volume: Volume
    change_request_closure_ratio: float | None  # CHAOSS: PRs closed (incl. merged) / opened
    waiting: list[WaitingItem] = field(default_factory=list)
    new_contributors: list[NewContributor] = field(default_factory=list)
    organisations: list[OrganisationShare] = field(default_factory=list)
    new_organisations: list[str] = field(default_factory=list)
    elephant_factor: int | None = None  # CHAOSS: fewest organisations making 50% of contributions
    repositories: list[RepoHealth] = field(default_factory=list)
    trend_4w: list[TrendPoint] = field(default_factory=list)
    trend_12w: list[TrendPoint] = field(default_factory=list)
    retention: Retention | None = None
    # What the attention budget switched to daily or held (bot/digest/attention_log.py).
    attention_decisions: list[dict[str, Any]] = field(default_factory=list)
    attention: dict[str, Any] | None = None  # bot/digest/attention.py: how much Veilleur said
    # An OSPO's digest: the members it covers, and how many listed owners it leaves out for
    # want of their consent (bot/digest/ospo.py; counted, not named: it may be published).
    members: list[str] = field(default_factory=list)
    members_left_out: int = 0

    def to_json(self) -> dict[str, Any]:
        def enc(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: enc(v) for k, v in value.items()}
            if isinstance(value, list):
                return [enc(v) for v in value]
            return value

        return {
            "org": self.org,
            "week": self.week,
            "scope": {"members": list(self.members), "members_left_out": self.members_left_out},
            "period": {"start": enc(self.start), "end": enc(self.end)},
            "generated_at": enc(self.generated_at),
            "metrics": {
                "time_to_first_response": enc(asdict(self.ttfr_outside)),
                "time_to_first_response_inside": enc(asdict(self.ttfr_inside)),
                "volume": asdict(self.volume),
                "change_request_closure_ratio": self.change_request_closure_ratio,
                "new_contributors": enc([asdict(c) for c in self.new_contributors]),
                "elephant_factor": self.elephant_factor,
                "new_organisations": list(self.new_organisations),
                "retention": self.retention.to_json() if self.retention else None,
            },
            "waiting": enc([asdict(w) for w in self.waiting]),
            "organisations": enc([asdict(o) for o in self.organisations]),
            "repositories": enc([asdict(r) for r in self.repositories]),
            "attention_decisions": enc(self.attention_decisions),
            "attention": self.attention,
            "trends": {
                "weeks_4": enc([asdict(t) for t in self.trend_4w]),
                "weeks_12": enc([asdict(t) for t in self.trend_12w]),
            },
        }
