"""Import the history of newly installed repositories (installation created, repositories
added), so the SLA and the digest know their past from the first day.

The import runs beside the delivery queue (`bot.backfill.tasks.BackfillTasks`): the delivery is
done once the import has started. It is resumable; the nightly refresh finishes it if this
process stops first.
"""

from __future__ import annotations

from typing import Any

from bot.backfill.run import Backfill, Stats
from bot.backfill.tasks import tasks_of
from bot.dispatch.context import Context, Event

NAME = "backfill"
EVENTS = {("installation", "created"), ("installation_repositories", "added")}
SEES_OWN_EVENTS = False


def repos_to_import(event: Event) -> tuple[str | None, list[str] | None]:
    """Pure step: (org, repositories) to import; repositories None means every installed one."""
    payload = event.payload
    account = (payload.get("installation") or {}).get("account") or {}
    org = account.get("login")
    key = "repositories" if event.name == "installation" else "repositories_added"
    listed: list[dict[str, Any]] = payload.get(key) or []
    names = [r["full_name"] for r in listed if isinstance(r, dict) and r.get("full_name")]
    if event.name == "installation_repositories" and not names:
        return org, []
    return org, names or None


async def handle(event: Event, ctx: Context) -> None:
    org, repos = repos_to_import(event)
    if not org or ctx.github is None or repos == []:
        return
    api, inst_id = ctx.github, event.installation_id

    async def run() -> Stats:
        backfill = Backfill(api, ctx.engine, ctx.clock, services=ctx.services)
        return await backfill.run_org(org, repos, installation_id=inst_id)

    tasks_of(ctx.services).start(org, run)
