"""Membership changes refresh the cached author classes."""

from __future__ import annotations

from bot.dispatch.context import Context, Event

NAME = "membership"
EVENTS = {("member", None), ("membership", None), ("organization", None)}
SEES_OWN_EVENTS = True


def affected_login(payload: dict[str, object]) -> str | None:
    """Pure step: whose class may have changed."""
    for key in ("member", "membership"):
        value = payload.get(key)
        if isinstance(value, dict):
            user = value.get("user") if key == "membership" else value
            if isinstance(user, dict) and user.get("login"):
                return str(user["login"])
    return None


async def handle(event: Event, ctx: Context) -> None:
    classifier = ctx.services.get("classifier")
    if classifier is not None:
        classifier.invalidate(affected_login(event.payload))
