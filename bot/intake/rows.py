"""What the intake hands to a writer, and the outcomes a writer answers.

Standard library only: the writer process imports this and nothing heavier
(bot/intake/sqlite_writer.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MAX_GROUP = 512  # rows per commit; 512 x 11 parameters stays under SQLite's and PostgreSQL's limits


class Stored:
    NEW = "new"  # stored now: 202
    REQUEUED = "requeued"  # had failed before, queued again: 202
    PENDING = "pending"  # already stored and not done yet: 202
    DONE = "done"  # already processed: 200
    FRESH = (NEW, REQUEUED)  # the worker has something new to do


@dataclass
class DeliveryRow:
    guid: str
    event: str
    action: str | None
    installation_id: int | None
    repo_full_name: str | None
    item_number: int | None
    received_at: datetime
    payload: bytes  # the JSON body as received; compressed when written
