"""The answer to a `UserError`: one comment on the item, in the item's language, rendered with
the organisation's template overrides like any other reply."""

from __future__ import annotations

from bot.dispatch.context import Context, Event, UserError
from bot.effects.actions import Action, UpsertComment, marker
from bot.messages.language import item_language
from bot.messages.templating import Renderer


async def answer(event: Event, handler_name: str, err: UserError, ctx: Context) -> list[Action]:
    """The comment answering `err` (none without an item to answer on)."""
    repo, number = err.repo or event.repo, err.number or event.number
    if not (repo and number):
        return []
    text = err.message
    if err.parts:
        renderer, lang = await _renderer_and_language(event, repo, ctx)
        text = "\n".join(renderer.render(name, lang, **data).tagged for name, data in err.parts)
    mark = err.marker or marker(f"error-{handler_name}", event.delivery)
    return [UpsertComment(repo=repo, number=number, marker=mark, body=text, once=err.once)]


async def _renderer_and_language(event: Event, repo: str, ctx: Context) -> tuple[Renderer, str]:
    overrides = ctx.services.get("overrides")
    if overrides is not None and ctx.github is not None:
        renderer = await overrides.renderer_for(ctx.github, repo)
    else:
        renderer = ctx.services.get("renderer") or Renderer()
    resolved = await ctx.config()
    if resolved is None:
        return renderer, "en"
    cfg = resolved.config
    return renderer, await item_language(event.item or {}, cfg.languages, cfg.language)
