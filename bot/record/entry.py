"""A timeline entry as plain data, read from the record (not a database row), for the pure
code that reads timelines outside a session: the replay (bot/replay/) and the attention
figures of the digest (bot/digest/attention_record.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Entry:
    """One timeline entry (fits `bot.sla.rules.EntryLike`)."""

    kind: str
    occurred_at: datetime
    actor_login: str | None
    actor_class: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    actor_type: str | None = None
