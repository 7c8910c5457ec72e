"""The notes of many issues or merge requests in one GraphQL request, where REST asks once per
item (`GET .../issues/:iid/notes`): the history import's main cost (bench/gitlab_backfill.py).

A batch is as large as GitLab's complexity limit allows. The query below scores, by
graphql-ruby's rule (bot/sim/gitlab/graphql.py), `3 + n(5 + 5k)` for n items and k notes a page:
3 for `project`, `issues` and `nodes`; 5 per item (`iid`, `notes`, its `nodes`, `pageInfo` and
`hasNextPage`); 5 per note (`id`, `body`, `createdAt`, `author`, `username`). k is the largest
note count in the batch (items sorted by count, so batches stay full); an item with more notes
than one request can hold alone (k > 48) is read with REST, as is an item whose notes grew
past its page meanwhile (`hasNextPage`).

Should an instance score the query higher than this rule (a field GitLab prices above 1), its
refusal names both figures ("Query has complexity of X, which exceeds max complexity of Y"):
the budget shrinks by Y/X and the refused items are planned again, still through GraphQL.

REST is also the answer when GraphQL is not (404: disabled; 401/403: the token may not; an
error in the answer: an older GitLab without `filter` on notes, a complexity scored higher
than ours): that batch goes through REST, and so does the rest of the import.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bot.forge.errors import ForgeRequestFailed
from bot.gitlab import shapes

log = logging.getLogger(__name__)

MAX_COMPLEXITY = 250  # GitLab's limit for authenticated requests
BASE, PER_ITEM, PER_NOTE = 3, 5, 5
FALLBACK_STATUSES = {401, 403, 404}
SHRUNK = "shrunk"  # `_query`: refused as too complex, the budget lowered
TOO_COMPLEX = re.compile(
    r"Query has complexity of (\d{1,9}), which exceeds max complexity of (\d{1,9})"
)

QUERY = """query($path: ID!, $iids: [String!], $n: Int, $k: Int) {
  project(fullPath: $path) {
    items: %s(iids: $iids, first: $n) {
      nodes {
        iid
        notes(first: $k, filter: ONLY_COMMENTS) {
          pageInfo { hasNextPage }
          nodes { id body createdAt author { username } }
        }
      }
    }
  }
}"""


def cost(items: int, notes: int) -> int:
    """The complexity GitLab gives `QUERY` for `items` items of `notes` notes a page."""
    return BASE + items * (PER_ITEM + PER_NOTE * notes)


def plan(
    counts: dict[int, int], limit: int = MAX_COMPLEXITY
) -> tuple[list[tuple[list[int], int]], list[int]]:
    """Pure step: (batches as (iids, notes a page), iids left to REST) for items of known
    note counts, fewest notes first, each batch as large as `limit` allows."""
    batches: list[tuple[list[int], int]] = []
    rest: list[int] = []
    current: list[int] = []
    k = 0
    for iid, count in sorted(counts.items(), key=lambda kv: (kv[1], kv[0])):
        if cost(1, count) > limit:
            rest.append(iid)
            continue
        if current and cost(len(current) + 1, max(k, count)) > limit:
            batches.append((current, k))
            current, k = [], 0
        current.append(iid)
        k = max(k, count)
    if current:
        batches.append((current, k))
    return batches, rest


def _note(node: dict[str, Any]) -> dict[str, Any] | None:
    """A GraphQL note in the REST shape `shapes.note` reads (the Global ID's number is the
    REST id, which the webhooks' `comment:{id}` keys use)."""
    gid = str(node.get("id") or "")
    number = gid.rpartition("/")[2]
    if not number.isdigit():
        return None
    author = node.get("author") if isinstance(node.get("author"), dict) else None
    return {
        "id": int(number),
        "body": node.get("body") or "",
        "created_at": node.get("createdAt"),
        "author": author,
        "system": False,
    }


class NotesReader:
    """One import's notes, through GraphQL while the instance answers it, else REST."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.graphql = True
        self.limit = MAX_COMPLEXITY  # our score's budget, lowered if the instance scores higher

    async def notes(self, repo: str, kind: str, rows: list[dict[str, Any]]) -> dict[int, list[Any]]:
        """iid -> the item's notes (neutral shape, system notes left out), for the items of
        one page that have any (`user_notes_count`)."""
        known = counts = {
            int(r["iid"]): int(r.get("user_notes_count") or 0)
            for r in rows
            if r.get("user_notes_count") and str(r.get("iid", "")).isdigit()
        }
        out: dict[int, list[Any]] = {}
        rest: list[int] = []
        while counts and self.graphql:
            batches, too_large = plan(counts, self.limit)
            rest.extend(too_large)
            counts = {}
            for i, (iids, k) in enumerate(batches):
                got = await self._query(repo, kind, iids, k) if self.graphql else None
                if got == SHRUNK:  # this batch and the next ones planned again, smaller
                    counts = {iid: known[iid] for later in batches[i:] for iid in later[0]}
                    break
                if not isinstance(got, dict):
                    rest.extend(iids)
                else:
                    out.update(got)
                    rest.extend(iid for iid in iids if iid not in got)
        rest.extend(counts)
        for iid in rest:
            out[iid] = await self._rest(repo, kind, iid)
        return out

    async def _query(self, repo: str, kind: str, iids: list[int], k: int) -> Any:
        """The batch's notes (items with more than `k` left out); `SHRUNK` (the budget
        lowered); or None: GraphQL is off."""
        field = "mergeRequests" if kind == "merge_requests" else "issues"
        variables = {
            "path": self.api.project_path(repo),
            "iids": [str(i) for i in iids],
            "n": len(iids),
            "k": k,
        }
        try:
            resp = await self.api.http.graphql(QUERY % field, variables)
        except ForgeRequestFailed as exc:
            if exc.status not in FALLBACK_STATUSES:
                raise
            self._off(f"HTTP {exc.status}")
            return None
        if resp.status_code in FALLBACK_STATUSES:
            self._off(f"HTTP {resp.status_code}")
            return None
        body = resp.json() if resp.content else {}
        if not isinstance(body, dict) or body.get("errors"):
            errors = body.get("errors") if isinstance(body, dict) else None
            scored = TOO_COMPLEX.search(str(errors)[:1000])
            if scored and int(scored[1]) > int(scored[2]) > 0:
                ours = cost(len(iids), k)
                self.limit = min(self.limit - 1, ours * int(scored[2]) // int(scored[1]))
                return SHRUNK if len(iids) > 1 else {}  # one item alone: REST reads it
            self._off(f"errors {str(errors)[:200]}")
            return None
        project = (body.get("data") or {}).get("project")
        if not isinstance(project, dict):
            self._off("no project in the answer")
            return None
        out: dict[int, list[Any]] = {}
        for node in (project.get("items") or {}).get("nodes") or []:
            notes = node.get("notes") or {}
            if (notes.get("pageInfo") or {}).get("hasNextPage"):
                continue  # grew since it was listed: REST reads all of them
            parsed = [_note(n) for n in notes.get("nodes") or [] if isinstance(n, dict)]
            out[int(node["iid"])] = [shapes.note(n) for n in parsed if n is not None]
        return out

    def _off(self, why: str) -> None:
        log.warning("GitLab GraphQL unavailable (%s): notes are read with REST", why)
        self.graphql = False

    async def _rest(self, repo: str, kind: str, iid: int) -> list[Any]:
        found = await self.api.http.pages(
            f"{self.api.project_url(repo)}/{kind}/{iid}/notes",
            {"sort": "asc", "order_by": "created_at"},
        )
        return [shapes.note(n) for n in found if not n.get("system")]
