"""Missed GitLab deliveries: ask GitLab to resend what failed and Veilleur never stored.

GitLab logs each delivery of a webhook for seven days (`GET /projects/:id/hooks/:hook_id/events`,
`/groups/...` for a group webhook; newest first, offset pages). A delivery GitLab saw fail (a
non-2xx status, or `internal error`: refused connection, timeout) whose key
(`Idempotency-Key`, else `X-Gitlab-Event-UUID`, as bot/gitlab/webhook.py stores it) is not in
`deliveries` is resent (`POST .../events/:hook_event_id/resend`: same body, same
Idempotency-Key). Each try is claimed in `action_log` (`gitlab-resend:<key>:<n>`, at most
`MAX_TRIES`), so no run asks twice for the same try and a receiver still failing is not
asked forever. At most `MAX_PER_HOOK` resends per webhook and run: GitLab allows five a
minute per webhook and user. Only Veilleur's own webhooks are read (URL path
`/webhooks/gitlab`): the projects' hooks (Maintainer) and their groups' (Owner).
A delivery GitLab saw answered 2xx is never resent: it was not lost on the way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import prometheus as metrics
from bot.forge.errors import ForgeRequestFailed
from bot.gitlab.hooks import kind_of
from bot.gitlab.webhook import STORED_KINDS, WEBHOOK_PATH
from bot.intake.recovery import claim, known_guids, unclaim
from bot.storage.models import Repository

log = logging.getLogger(__name__)

WINDOW = timedelta(days=3)
MAX_PER_HOOK = 5
MAX_TRIES = 3
MAX_PAGES = 20  # of 100 events, per webhook and run


@dataclass(frozen=True)
class Hook:
    scope: str  # "projects" or "groups"
    parent: str  # the project's or group's path
    id: int

    @property
    def path(self) -> str:
        return f"/{self.scope}/{quote(self.parent, safe='')}/hooks/{self.id}"


@dataclass(frozen=True)
class Failed:
    key: str  # as stored: the row's guid is `gitlab:<key>`
    event_id: int  # the latest failed attempt, the one to resend
    trigger: str


@dataclass
class GitLabRecoveryReport:
    hooks: int = 0
    events_listed: int = 0
    resent: list[Failed] = field(default_factory=list)
    exhausted: int = 0  # failed, and already tried MAX_TRIES times
    errors: list[str] = field(default_factory=list)


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _key(event: dict[str, Any]) -> str | None:
    headers = {str(k).lower(): v for k, v in (event.get("request_headers") or {}).items()}
    key = headers.get("idempotency-key") or headers.get("x-gitlab-event-uuid")
    return key if isinstance(key, str) and 0 < len(key) <= 57 else None


def _ok(event: dict[str, Any]) -> bool:
    status = str(event.get("response_status") or "")
    return status.isdigit() and 200 <= int(status) < 300


def failed_events(
    events: Iterable[dict[str, Any]], known: set[str], since: datetime
) -> list[Failed]:
    """Pure step: one entry per key that GitLab never saw answered 2xx, of a kind Veilleur
    stores, first sent at or after `since` (no date: kept, GitLab lists seven days), absent
    from `known` (stored guids); oldest first."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        key = _key(e)
        if key is not None and isinstance(e.get("id"), int):
            by_key.setdefault(key, []).append(e)
    out = []
    for key, tries in by_key.items():
        if f"gitlab:{key}" in known or any(_ok(t) for t in tries):
            continue
        if kind_of(tries[0].get("request_data") or {}) not in STORED_KINDS:
            continue  # answered 200 and dropped anyway: nothing to recover
        dates = [d for t in tries if (d := _when(t.get("created_at"))) is not None]
        if dates and min(dates) < since:
            continue
        latest = max(tries, key=lambda t: int(t["id"]))
        out.append(Failed(key, int(latest["id"]), str(latest.get("trigger") or "")))
    out.sort(key=lambda f: f.event_id)
    return out


def _groups_of(paths: Iterable[str]) -> list[str]:
    """Every group above the projects (a group webhook covers its subgroups' projects)."""
    groups: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        groups.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(groups)


def recorded_projects(engine: Engine, host: str) -> list[str]:
    prefix = f"{host}/"
    with Session(engine) as s:
        rows = s.exec(select(Repository.full_name).where(col(Repository.removed_at).is_(None)))
        return sorted(n[len(prefix) :] for n in rows if n.startswith(prefix))


async def veilleur_hooks(
    http: Any, projects: list[str], report: GitLabRecoveryReport
) -> list[Hook]:
    """Veilleur's webhooks on the projects and their groups; a listing refused (403: not
    Maintainer of the project, not Owner of the group, or no group webhooks on this tier)
    is skipped."""
    hooks: list[Hook] = []
    for scope, parents in (("projects", projects), ("groups", _groups_of(projects))):
        for parent in parents:
            try:
                rows = await http.pages(f"/{scope}/{quote(parent, safe='')}/hooks")
            except ForgeRequestFailed as exc:
                if exc.status not in (401, 403):
                    report.errors.append(f"{scope}/{parent}: {exc}")
                continue
            hooks += [
                Hook(scope, parent, int(r["id"]))
                for r in rows
                if isinstance(r, dict) and isinstance(r.get("id"), int)
                and urlsplit(str(r.get("url") or "")).path.rstrip("/").endswith(WEBHOOK_PATH)
            ]  # fmt: skip
    return hooks


async def list_events(http: Any, hook: Hook, since: datetime) -> list[dict[str, Any]]:
    """The hook's logged deliveries, newest first, until one older than `since`."""
    out: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        resp = await http.request(
            "GET", f"{hook.path}/events", params={"per_page": 100, "page": page}
        )
        batch = resp.json() if resp.status_code == 200 else []
        if not isinstance(batch, list) or not batch:
            break
        out.extend(e for e in batch if isinstance(e, dict))
        oldest = _when(batch[-1].get("created_at") if isinstance(batch[-1], dict) else None)
        if not resp.headers.get("x-next-page", "").isdigit() or (oldest and oldest < since):
            break
    return out


def _try_key(engine: Engine, key: str, now: datetime, detail: str) -> str | None:
    """Claim the next of the key's MAX_TRIES tries; None when all are spent."""
    for n in range(1, MAX_TRIES + 1):
        if claim(engine, f"gitlab-resend:{key}:{n}", now, detail):
            return f"gitlab-resend:{key}:{n}"
    return None


async def recover(
    forges: Any, engine: Engine, now: datetime, *, window: timedelta = WINDOW, dry_run: bool = False
) -> GitLabRecoveryReport:
    """For each of Veilleur's webhooks, resend (oldest first, a few per run) the failed
    deliveries of the window that never reached `deliveries`."""
    report = GitLabRecoveryReport()
    http = forges.api.http
    hooks = await veilleur_hooks(http, recorded_projects(engine, forges.host), report)
    report.hooks = len(hooks)
    for hook in hooks:
        try:
            events = await list_events(http, hook, now - window)
        except Exception as exc:  # this webhook's log unreadable now: the next run reads it
            report.errors.append(f"{hook.path}: {type(exc).__name__}: {exc}")
            continue
        report.events_listed += len(events)
        keys = sorted({f"gitlab:{k}" for e in events if (k := _key(e))})
        asked = 0
        for f in failed_events(events, known_guids(engine, keys), now - window):
            if asked >= MAX_PER_HOOK:
                break
            if dry_run:
                log.info("dry-run: would ask GitLab to resend %s (%s)", f.key, f.trigger)
                continue
            taken = _try_key(engine, f.key, now, f"{hook.path} event {f.event_id} {f.trigger}")
            if taken is None:
                report.exhausted += 1
                continue
            asked += 1
            try:
                answer = await http.json("POST", f"{hook.path}/events/{f.event_id}/resend")
            except ForgeRequestFailed as exc:
                report.errors.append(f"{f.key}: {exc}")
                if exc.status == 422:  # GitLab refuses this entry for good: a try spent
                    continue
                unclaim(engine, taken)
                break
            except Exception as exc:  # not asked after all: the next run tries again
                unclaim(engine, taken)
                report.errors.append(f"{f.key}: {type(exc).__name__}: {exc}")
                break
            report.resent.append(f)
            metrics.REDELIVERIES_REQUESTED.labels(reason="gitlab").inc()
            status = answer.get("response_status") if isinstance(answer, dict) else None
            log.info("asked GitLab to resend %s (%s): answered %s", f.key, f.trigger, status)
    if report.resent or report.exhausted or report.errors:
        log.info(
            "GitLab delivery recovery: %d webhooks, %d events listed, %d resent, %d given up "
            "after %d tries, %d errors",
            report.hooks, report.events_listed, len(report.resent), report.exhausted,
            MAX_TRIES, len(report.errors),
        )  # fmt: skip
    return report
