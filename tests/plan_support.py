"""What the unit tests of the handlers' pure steps share: real payloads, a config, a frozen now.

A handler's plan is tested as payload + configuration + clock -> intended actions, with no
server and no forge. The payloads are GitHub's own examples (../shared); a test that needs a
variation (another author, another comment) changes a deep copy of one, never the file.
A missing example fails the test in CI and skips it on a developer's machine, as `need` says.
"""

from __future__ import annotations

import copy
import json
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config.loader import load_default, parse_config_text, validate_layers
from bot.config.schema import VeilleurConfig
from bot.dispatch.context import Event
from bot.effects.actions import Action
from bot.record.people import Classification, Facts, classify, is_bot_account
from tests.conftest import WEBHOOK_EXAMPLES, need

NOW = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)  # a Wednesday morning, inside working hours
CONFIG_FILE = ".github/veilleur.yml"


def example(event: str, name: str) -> dict[str, Any]:
    """A fresh copy of GitHub's example payload `<event>/<name>.payload.json` (name "": the
    event's plain `payload.json`)."""
    path = WEBHOOK_EXAMPLES / event / (f"{name}.payload.json" if name else "payload.json")
    need(path)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def changed(payload: dict[str, Any], **paths: Any) -> dict[str, Any]:
    """A deep copy of `payload` with dotted paths set: `changed(p, issue__user__login="x")`."""
    out = copy.deepcopy(payload)
    for dotted, value in paths.items():
        *parents, last = dotted.split("__")
        node = out
        for key in parents:
            node = node[key]
        node[last] = value
    return out


def event(name: str, payload: dict[str, Any], delivery: str = "delivery-1") -> Event:
    installation = (payload.get("installation") or {}).get("id")
    return Event(name, payload.get("action"), delivery, payload, installation)


def config(text: str = "") -> VeilleurConfig:
    """The packaged defaults under a repository file `text`, as the loader merges them."""
    data, errors = parse_config_text(text, CONFIG_FILE)
    assert errors == [], errors
    merged, errors = validate_layers(load_default(), None, (data, CONFIG_FILE) if text else None)
    assert errors == [] and merged is not None, errors
    return merged


def user(login: str, *, bot: bool = False) -> dict[str, Any]:
    """A payload's user object, as GitHub sends it for a person or an App."""
    return {"login": login, "id": zlib.crc32(login.encode()), "type": "Bot" if bot else "User"}


def classified(
    who: dict[str, Any], cfg: VeilleurConfig, *, permission: str | None = None, member: bool = False
) -> Classification:
    """The author class the classifier would find, from the facts the forge would give."""
    facts = Facts(
        login=str(who.get("login") or ""),
        is_bot=is_bot_account(who),
        permission=permission,
        org_member=member,
    )
    return classify(facts, list(cfg.maintainers.users), list(cfg.partners), list(cfg.bots.logins))


def kinds(actions: list[Action]) -> list[str]:
    """The type names of planned actions, in order (what a reader scans first)."""
    return [type(a).__name__ for a in actions]


def at(day: int, hour: int = 10) -> datetime:
    """Day `day` counted from Monday 1 June 2026, in UTC: Tue 2 … Mon 8 … 31 is Wed 1 July."""
    return datetime(2026, 6, 1, hour, tzinfo=UTC) + timedelta(days=day - 1)
