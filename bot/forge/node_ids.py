"""Node ids an event tells (its item's, its labels'), so that labels can be added and removed
in one GraphQL request (`Forge.change_labels`) without asking for them first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def item_key(repo: str, number: int) -> str:
    return f"item:{repo.lower()}#{number}"


def label_key(repo: str, name: str) -> str:
    return f"label:{repo.lower()}:{name.lower()}"


def of_event(repo: str | None, item: Mapping[str, Any] | None, label: Any = None) -> dict[str, str]:
    """The item's node id and those of its labels (and of the event's label), by key."""
    if not repo or not item:
        return {}
    ids: dict[str, str] = {}
    if isinstance(item.get("number"), int) and isinstance(item.get("node_id"), str):
        ids[item_key(repo, item["number"])] = item["node_id"]
    for lab in [*(item.get("labels") or []), label]:
        if isinstance(lab, dict) and isinstance(lab.get("name"), str) and lab.get("node_id"):
            ids[label_key(repo, lab["name"])] = str(lab["node_id"])
    return ids
