"""Run one stored delivery through its handlers, each inside its own error boundary.

- A `UserError` (a refused command: `CommandError`) becomes one comment on the item, in its
  language (`user_errors.answer`); the handler counts as done.
- Any other exception is logged; the delivery is left failed (and retried later).
- Handlers that already finished a delivery are skipped when it is retried.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import TYPE_CHECKING, Any

import orjson

from bot import prometheus as metrics
from bot.dispatch import user_errors
from bot.dispatch.context import Context, Event, UserError
from bot.dispatch.registry import Handler, handlers_for
from bot.effects.executor import Executor
from bot.forge import Forge, node_ids
from bot.forge.errors import RateLimited
from bot.logs import delivery_context
from bot.queue import deliveries
from bot.storage import payloads
from bot.storage.models import Delivery

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    pass


class Dispatcher:
    """Runs deliveries with the runtime's handlers, services and forge clients."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.engine = runtime.engine
        self.clock = runtime.clock
        self.services = runtime.services
        self.handlers = runtime.handlers

    def paused_installations(self) -> list[int]:
        return self.runtime.paused_installations()

    def is_own_event(self, event: Event) -> bool:
        login = self.runtime.bot_login
        own = bool(login) and event.sender_login == login
        return own or event.payload.get("sender_is_self") is True  # another forge's (bot/gitlab)

    async def run(self, delivery: Delivery) -> None:
        """Process a claimed delivery and record the outcome (done, failed or dead)."""
        started = time.perf_counter()
        with delivery_context(delivery.guid, delivery.installation_id):
            try:
                await self.process(delivery)
            except RateLimited as exc:  # GitHub asked to wait: no attempt counted, never dead
                deliveries.postpone(self.engine, delivery.guid, exc.until, str(exc))
                metrics.DELIVERIES_PROCESSED.labels(result="rate_limited").inc()
                log.warning("delivery waits: %s", exc)
            except Exception as exc:
                status = deliveries.fail(
                    self.engine,
                    delivery.guid,
                    self.clock.now(),
                    f"{type(exc).__name__}: {exc}",
                    max_attempts=self.settings.max_attempts,
                    base_seconds=self.settings.retry_base_seconds,
                )
                metrics.DELIVERIES_PROCESSED.labels(result=status).inc()
                log.warning("delivery %s", status)
            else:
                deliveries.finish(self.engine, delivery.guid, self.clock.now())
                metrics.DELIVERIES_PROCESSED.labels(result="done").inc()
            finally:
                metrics.PROCESSING_SECONDS.observe(time.perf_counter() - started)
                waited = (self.clock.now() - delivery.received_at).total_seconds()
                metrics.DELIVERY_LATENCY.observe(max(waited, 0.0))

    async def process(self, delivery: Delivery) -> None:
        payload = orjson.loads(payloads.unpack(delivery.payload))
        event = Event(
            name=delivery.event,
            action=delivery.action,
            delivery=delivery.guid,
            payload=payload,
            installation_id=delivery.installation_id,
        )
        forges = self.services.get("forges")
        if forges is not None:  # another forge's hook, told as the event handlers plan from
            event = await forges.normalise(event)
        repo = payload.get("repository")
        branches = self.services.get("branches")
        if isinstance(repo, dict) and repo.get("default_branch") and branches is not None:
            branches[repo["full_name"]] = repo["default_branch"]
        from bot.dispatch.sightings import record as record_sighting

        record_sighting(self.engine, event, self.clock.now())  # a repository Veilleur missed
        own = self.is_own_event(event)
        done = deliveries.handler_done(self.engine, delivery.guid)
        failures: list[str] = []
        memo: dict[str, Any] = {}  # shared by this event's handlers (its configuration)
        for handler in handlers_for(self.handlers, event.name, event.action):
            if handler.name in done or (own and not handler.sees_own_events):
                continue
            ctx = self._context(event, memo)
            try:
                try:
                    await handler.handle(event, ctx)
                except UserError as err:  # answered; failing to answer fails the handler
                    await self._answer_user_error(event, handler, err, ctx)
            except RateLimited:
                raise  # the whole delivery waits; finished handlers are not run again
            except Exception as exc:
                log.error(
                    "handler %s failed: %s\n%s", handler.name, exc, traceback.format_exc(limit=8)
                )
                failures.append(f"{handler.name}: {type(exc).__name__}: {exc}")
                continue
            deliveries.mark_handler_done(self.engine, delivery.guid, handler.name, self.clock.now())
        if failures:
            raise DeliveryFailed("; ".join(failures))

    def _context(self, event: Event, memo: dict[str, Any]) -> Context:
        api: Forge | None = self.runtime.api_for(event.installation_id)
        forges = self.services.get("forges")
        if api is None and forges is not None and event.repo:
            api = forges.for_repo(event.repo)  # a repository on another forge (bot/gitlab/)
        executor = Executor(
            engine=self.engine,
            clock=self.clock,
            api=api,
            bot_login=self.runtime.bot_login,
            mailer=self.runtime.mailer,
            dry_run=self.settings.dry_run,
            delivery=event.delivery,
            repo_cache=self.services.get("repo_cache"),
            node_ids=node_ids.of_event(event.repo, event.item, event.payload.get("label")),
        )
        return Context(
            settings=self.settings,
            engine=self.engine,
            clock=self.clock,
            github=api,
            executor=executor,
            bot_login=self.runtime.bot_login,
            services=self.services,
            event=event,
            memo=memo,
        )

    async def _answer_user_error(
        self, event: Event, handler: Handler, err: UserError, ctx: Context
    ) -> None:
        log.info("user error in %s: %s", handler.name, err.message)
        await ctx.apply(await user_errors.answer(event, handler.name, err, ctx))
