"""Record every issue, pull request, comment, review, label, assignment, close and merge.

The pure step (`bot.record.timeline.parse`) turns a payload into an item snapshot and timeline
entries; this I/O step classifies the people involved and writes both idempotently.
"""

from __future__ import annotations

from bot.dispatch.context import Context, Event
from bot.record.people import is_bot_account
from bot.record.timeline import (
    converted,
    mark_questions,
    parse,
    transfer_source,
    transfer_target,
    write,
    write_if_known,
)

NAME = "records"
SEES_OWN_EVENTS = True
EVENTS = {
    ("issues", None),
    ("pull_request", None),
    ("issue_comment", None),
    ("pull_request_review", None),
    ("pull_request_review_comment", None),
    ("discussion", "created"),
}


async def handle(event: Event, ctx: Context) -> None:
    if event.name == "discussion":
        rec = converted(event, ctx.now())
        if rec is not None:
            write_if_known(ctx, rec)
        return
    rec = parse(event, ctx.now())
    if rec is None:
        return
    classifier = ctx.services.get("classifier")
    classes: dict[str, str | None] = {}
    if classifier is not None and ctx.github is not None:
        people = {rec.item["author_login"]: rec.author}
        people.update({e.actor.get("login", ""): e.actor for e in rec.entries if e.actor})
        for login, user in people.items():
            if login:
                result = await classifier.classify(ctx.github, rec.repo, user, event)
                classes[login] = result.author_class
        author = rec.item["author_login"]
        if classes.get(author) in ("external", "partner"):
            profile = await classifier.profile(ctx.github, author)
            rec.item["author_company"] = profile.get("company")
            email = profile.get("email") or ""
            rec.item["author_email_domain"] = (
                email.rsplit("@", 1)[-1].lower() if "@" in email else None
            )
    else:
        for e in rec.entries:
            if is_bot_account(e.actor):
                classes[e.actor.get("login", "")] = "bot"
    mark_questions(rec, classes)
    write(ctx, rec, classes)
    moved = (
        transfer_target(event.payload)
        if event.action == "transferred"
        else transfer_source(event.payload)
        if event.action == "opened"
        else None
    )
    if moved is not None and event.name == "issues":
        from handlers.transfers import follow

        old, new = (
            ((rec.repo, rec.item["number"]), moved)
            if event.action == "transferred"
            else (moved, (rec.repo, rec.item["number"]))
        )
        follow(ctx.engine, old, new)
