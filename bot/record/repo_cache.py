"""What Veilleur remembers about a repository between deliveries, to spare the API budget.

- Label existence: a label seen or created is not looked up again, and its node id is kept
  (labels added and removed in one GraphQL request). Forgotten on a `label` event (someone
  created, renamed or deleted one), and when using a label gets a 404.
- The community profile (CONTRIBUTING, code of conduct, support links of the welcome) and the
  issue templates (what an untouched template looks like): kept for `PROFILE_TTL`, forgotten
  when a push to the default branch touches a file they read.

Per process, in memory: a stale entry costs at most one failed delivery, retried after it
was forgotten (labels), or an out-of-date link until the TTL (profile).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.forge.node_ids import label_key

PROFILE_TTL = timedelta(hours=6)
MAX_REPOS = 10_000  # bounded: the oldest repository's entries go first

# Files GitHub's community profile reads: root, .github/ and docs/ (README, CONTRIBUTING,
# CODE_OF_CONDUCT, SUPPORT, LICENSE, issue and pull request templates).
_PROFILE_FILE = re.compile(
    r"^(?:\.github/|docs/)?(?:readme|contributing|code_of_conduct|support|license|copying"
    r"|issue_template|pull_request_template)(?:\.[a-z0-9]+)?$|^(?:\.github/|docs/)?"
    r"(?:issue_template|pull_request_template)/",
    re.I,
)


def touches_profile(paths: Iterable[str]) -> bool:
    """Whether a push changing `paths` can change the community profile."""
    return any(_PROFILE_FILE.search(p) for p in paths)


class RepoCache:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._labels: dict[str, dict[str, str | None]] = {}  # name -> node id, when known
        self._profiles: dict[str, tuple[datetime, dict[str, Any] | None]] = {}
        self._templates: dict[str, tuple[datetime, list[str]]] = {}

    # -- labels ---------------------------------------------------------------------------
    def label_known(self, repo: str, name: str) -> bool:
        return name.lower() in self._labels.get(repo.lower(), {})

    def label_exists(self, repo: str, name: str, node_id: str | None = None) -> None:
        key = repo.lower()
        if key not in self._labels and len(self._labels) >= MAX_REPOS:
            self._labels.pop(next(iter(self._labels)))
        known = self._labels.setdefault(key, {})
        known[name.lower()] = node_id or known.get(name.lower())

    def label_ids(self, repo: str) -> dict[str, str]:
        """The node ids of the repository's labels seen (bot/forge/node_ids.py keys)."""
        known = self._labels.get(repo.lower(), {})
        return {label_key(repo, name): i for name, i in known.items() if i}

    def forget_labels(self, repo: str) -> None:
        self._labels.pop(repo.lower(), None)

    # -- community profile ----------------------------------------------------------------
    async def community_profile(
        self, repo: str, fetch: Callable[[], Awaitable[dict[str, Any] | None]]
    ) -> dict[str, Any] | None:
        now = self.clock.now()
        hit = self._profiles.get(repo.lower())
        if hit is not None and hit[0] > now:
            return hit[1]
        profile = await fetch()
        if len(self._profiles) >= MAX_REPOS:
            self._profiles.pop(next(iter(self._profiles)))
        self._profiles[repo.lower()] = (now + PROFILE_TTL, profile)
        return profile

    async def issue_templates(
        self, repo: str, fetch: Callable[[], Awaitable[list[str]]]
    ) -> list[str]:
        now = self.clock.now()
        hit = self._templates.get(repo.lower())
        if hit is not None and hit[0] > now:
            return hit[1]
        texts = await fetch()
        if len(self._templates) >= MAX_REPOS:
            self._templates.pop(next(iter(self._templates)))
        self._templates[repo.lower()] = (now + PROFILE_TTL, texts)
        return texts

    def forget_profile(self, repo: str) -> None:
        """Forget what a push to the community files can change: the profile and templates."""
        self._profiles.pop(repo.lower(), None)
        self._templates.pop(repo.lower(), None)
