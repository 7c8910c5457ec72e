"""Run the demo: the simulated forge, the real Veilleur server, six simulated weeks, a summary."""

from __future__ import annotations

import json
import socket
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from bot.app import create_app
from bot.clock import FrozenClock
from bot.demo import script, world
from bot.settings import load_settings
from bot.simforge import Forge, ForgeServer, ThreadedServer, generate_app_keypair
from bot.storage.models import Delivery, DeliveryStatus


@dataclass
class DemoOptions:
    fast: bool = False
    serve: bool = True
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    json_out: Path | None = None
    quiet: bool = False


@dataclass
class Mailbox:
    """A real SMTP server on loopback that keeps what it receives (the OSPO's inbox)."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = message_from_bytes(envelope.content)
        self.messages.append(
            {
                "to": list(envelope.rcpt_tos),
                "subject": str(msg["Subject"]),
                "key": msg["X-Veilleur-Key"],
            }
        )
        return "250 OK"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_idle(engine: Any, forge: Forge, worker: Any, timeout: float = 60.0) -> None:
    """Until every webhook, including those Veilleur's own actions caused, is processed."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        forge.settle()
        with Session(engine) as s:
            busy = s.scalars(
                select(col(Delivery.guid)).where(
                    col(Delivery.status).in_([DeliveryStatus.RECEIVED, DeliveryStatus.PROCESSING])
                )
            ).first()
        quiet = quiet + 1 if busy is None else 0
        if quiet >= 2:
            return
        worker.wake()
        time.sleep(0.01)
    raise TimeoutError("Veilleur did not finish processing in time")


class Demo:
    def __init__(self, opts: DemoOptions) -> None:
        self.opts = opts
        self.clock = FrozenClock(script.at(script.START, 8))
        self.story = script.Story()
        self.log: list[str] = []
        self.sweep_log: list[tuple[datetime, list[str]]] = []
        self.mailbox = Mailbox()

    def say(self, line: str) -> None:
        self.log.append(line)
        if not self.opts.quiet:
            print(line, flush=True)

    def run(self) -> dict[str, Any]:
        from aiosmtpd.controller import Controller

        keys = generate_app_keypair()
        self.forge = forge = Forge(self.clock, app_key=keys)
        world.seed(forge)
        tmp = tempfile.TemporaryDirectory(prefix="veilleur-demo-")
        db_url = self.opts.database_url or f"sqlite:///{Path(tmp.name) / 'demo.db'}"
        smtp_port = free_port()
        smtp = Controller(self.mailbox, hostname="127.0.0.1", port=smtp_port)
        smtp.start()
        forge_server = ForgeServer(forge).start()
        settings = load_settings(
            app_id=forge.the_app.id,
            private_key=keys.private_pem,
            github_api_url=forge_server.url,
            webhook_secret=forge.webhook_secret,
            database_url=db_url,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_from="veilleur@paris.example",
            dashboard_open=True,
            config_cache_seconds=86400,  # the demo's configuration never changes
            write_spacing_seconds=0.0,  # six weeks in a minute: the simulated forge has no limit
            log_level="WARNING",
            log_format="text",
        )
        self.app = app = create_app(settings, clock=self.clock)
        self.server = ThreadedServer(
            app, host=self.opts.host, port=self.opts.port, lifespan="on"
        ).start()
        try:
            forge.webhook_url = f"{self.server.url}/webhooks/github"
            self.say(f"Simulated forge on {forge_server.url}; Veilleur on {self.server.url}")
            forge.scenario.install(world.ORG)
            self._idle()
            self._play()
            result = self.summary()
            if self.opts.json_out:
                self.opts.json_out.write_text(
                    json.dumps(result, indent=2, ensure_ascii=False, default=str)
                )
            if self.opts.serve:
                self.say(f"\nDashboard: {self.server.url}/  (Ctrl-C to stop)")
                while True:
                    time.sleep(3600)
            return result
        finally:
            self.server.stop()
            forge_server.stop()
            smtp.stop()
            forge.close()
            tmp.cleanup()

    def _idle(self) -> None:
        wait_idle(self.app.state.engine, self.forge, self.app.state.worker)

    def _play(self) -> None:
        steps = sorted(script.steps(), key=lambda s: s[0])
        day = script.START
        i = 0
        while day <= script.END:
            weekend = day.weekday() >= 5  # sweeps would find nothing to do at the weekend
            moments: list[tuple[datetime, int, Any]] = (
                []
                if weekend
                else [(script.at(day, t.hour, t.minute), 1, None) for t in script.SWEEP_TIMES]
            )
            while i < len(steps) and steps[i][0].date() == day:
                moments.append((steps[i][0], 0, steps[i]))
                i += 1
            for when, _kind, step in sorted(moments, key=lambda m: (m[0], m[1])):
                self.clock.set(when)
                if step is None:
                    self._sweep(when)
                else:
                    if step[1] != "...":
                        self.say(f"{when:%a %d %b %H:%M}  {step[1]}")
                    step[2](self.forge, self.story)
                    self._idle()
            if not self.opts.fast:
                time.sleep(0.5)
            day += timedelta(days=1)

    def _sweep(self, when: datetime) -> None:
        from bot.jobs import sweeper_for

        worker = self.app.state.worker
        result = worker.call(sweeper_for(worker.dispatcher).run(when), timeout=120)
        self._idle()
        if result.actions:
            self.sweep_log.append((when, list(result.actions)))
        reminded = {
            a.split("veilleur:reminder:", 1)[1].split(":")[1]
            for a in result.actions
            if "veilleur:reminder:" in a
        }
        escalated = {
            a.split("veilleur:escalation:", 1)[1].split(":")[1]
            for a in result.actions
            if "veilleur:escalation:" in a
        }
        for ref in sorted(reminded):
            self.say(f"{when:%a %d %b %H:%M}    Veilleur reminds the maintainers of {ref}")
        for ref in sorted(escalated):
            self.say(
                f"{when:%a %d %b %H:%M}    Veilleur escalates {ref} to the OSPO (issue and mail)"
            )

    # -- what happened -----------------------------------------------------------------------
    def bot_comments(self) -> list[dict[str, Any]]:
        out = []
        for r in self.forge.repos.values():
            for c in r.comments.values():
                if c.user == self.forge.bot_login:
                    tag = (
                        c.body.split("veilleur-template:", 1)[1].split(" ", 1)[0]
                        if "veilleur-template:" in c.body
                        else ""
                    )
                    template, _, lang = tag.partition("/")
                    issue = r.issues[c.issue_number]
                    out.append(
                        {
                            "repo": r.full_name,
                            "number": c.issue_number,
                            "author": issue.user,
                            "template": template,
                            "lang": lang,
                            "at": c.created_at.isoformat(),
                        }
                    )
        return out

    def summary(self) -> dict[str, Any]:
        comments = self.bot_comments()
        counts = Counter(c["template"] for c in comments)
        labels: dict[str, list[str]] = {}
        for key, (repo, n) in self.story.items.items():
            labels[key] = sorted(self.forge.get_issue(repo, n).labels)
        digest = self._digest()
        result = {
            "story": {k: {"repo": r, "number": n} for k, (r, n) in self.story.items.items()},
            "labels": labels,
            "bot_comments": comments,
            "emails": self.mailbox.messages,
            "waiting_issues": [
                {"repo": r.full_name, "number": i.number, "body": i.body}
                for r in self.forge.repos.values()
                for i in r.issues.values()
                if i.user == self.forge.bot_login
                and i.title == "Contributions waiting for an answer"
            ],
            "digest": digest,
        }
        self.say("\n== What Veilleur did ==")
        self.say(f"labelled outside contributions: {sum(1 for v in labels.values() if v)}")
        for template, n in sorted(counts.items()):
            self.say(f"{template or 'other'}: {n}")
        self.say(f"escalation mails to the OSPO: {len(self.mailbox.messages)}")
        if digest is not None:
            self.say(f"\n== Weekly digest {digest['week']} ==")
            self.say(
                digest.get("markdown")
                or json.dumps(digest["json"], indent=1, ensure_ascii=False)[:4000]
            )
        return result

    def _digest(self) -> dict[str, Any] | None:
        try:
            from bot.digest.compute import compute_digest
        except ImportError:
            return None
        d = compute_digest(self.app.state.engine, world.ORG, None, now=self.clock.now())
        out: dict[str, Any] = {"week": d.week, "json": d.to_json()}
        try:
            from bot.digest.render import render_digest

            out["markdown"] = render_digest(d, "md", "fr")
        except ImportError:
            pass
        return out


def run_demo(opts: DemoOptions) -> dict[str, Any]:
    return Demo(opts).run()
