"""Run the demo: the simulated forge, the real Veilleur server, six simulated weeks, a summary."""

from __future__ import annotations

import json
import re
import shlex
import socket
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from bot.app import create_app
from bot.cli.errors import bind
from bot.clock import FrozenClock
from bot.messages.templating import T
from bot.settings import SettingsError, load_settings
from bot.sim import Forge, ForgeServer, ThreadedServer, generate_app_keypair
from bot.sim.demo import gent, script, world
from bot.sim.demo.registration import register
from bot.sim.gitlab import GitLabServer, GitLabWorld
from bot.storage.models import Delivery, DeliveryStatus

WAITING_KINDS = ("waiting-list", "ospo-waiting")  # markers of the waiting-list issues
DEFAULT_DB = "veilleur-demo.db"  # in the working directory, kept after the demo


@dataclass
class DemoOptions:
    fast: bool = False
    serve: bool = True
    database_url: str | None = None  # default: DEFAULT_DB, replaced at each run
    host: str = "127.0.0.1"
    port: int = 8000
    json_out: Path | None = None
    quiet: bool = False


@dataclass
class Mailbox:
    """A real SMTP server on loopback that keeps what it receives (the OSPO's inbox)."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = message_from_bytes(envelope.content, policy=policy.default)
        body = msg.get_body(preferencelist=("plain",)) if isinstance(msg, EmailMessage) else None
        self.messages.append(
            {
                "to": list(envelope.rcpt_tos),
                "subject": str(msg["Subject"]),
                "key": msg["X-Veilleur-Key"],
                "text": (body.get_content() if isinstance(body, EmailMessage) else "").replace(
                    "\r\n", "\n"
                ),
            }
        )
        return "250 OK"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_idle(
    engine: Any, forge: Forge, worker: Any, timeout: float = 60.0, gitlab: GitLabWorld | None = None
) -> None:
    """Until every webhook, including those Veilleur's own actions caused, is processed."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        forge.settle()
        if gitlab is not None and gitlab.sender is not None:
            gitlab.sender.settle()  # hooks of Veilleur's own notes and labels on GitLab
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

        bind(self.opts.host, self.opts.port, how_to_change="--port (0: any free port)").close()
        self.db_url = db_url = demo_database(self.opts.database_url)
        keys = generate_app_keypair()
        self.forge = forge = Forge(self.clock, app_key=keys)
        world.seed(forge)
        smtp_port = free_port()
        smtp = Controller(self.mailbox, hostname="127.0.0.1", port=smtp_port)
        smtp.start()
        forge_server = ForgeServer(forge).start()
        self.gitlab = lab = GitLabWorld(self.clock)
        world.seed_gitlab(lab)
        lab_server = GitLabServer(lab, host=world.GITLAB_HOST).start()
        self.story.gitlab = lab
        with tempfile.TemporaryDirectory(prefix="veilleur-demo-setup-") as setup_dir:
            registered, printed = register(
                forge_server.url, world.ORG, Path(setup_dir), "https://veilleur.paris.example"
            )
        self.say(f"veilleur setup (on the simulated forge): {printed.splitlines()[0]}")
        forge.html_url = forge_server.url  # the forge's own pages: the dashboard links there
        settings = load_settings(
            app_id=registered.app_id,
            private_key=registered.private_key,
            github_api_url=forge_server.url,
            github_web_url=forge_server.url,
            webhook_secret=registered.webhook_secret,
            database_url=db_url,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_from="veilleur@paris.example",
            dashboard_open=True,
            config_refetch_seconds=86400,  # the demo's configuration never changes
            config_cache_seconds=86400,
            write_spacing_seconds=0.0,  # six weeks in a minute: the simulated forge has no limit
            log_level="WARNING",
            log_format="text",
        )
        stack = ExitStack()
        stack.enter_context(gent.gitlab_settings(lab))  # read by Veilleur from the environment
        self.app = app = create_app(settings, clock=self.clock)
        self.server = ThreadedServer(app, host=self.opts.host, port=self.opts.port, lifespan="on")
        self.server.start(timeout=120)  # migrations and the writer process, on a slow machine
        try:
            forge.webhook_url = f"{self.server.url}/webhooks/github"
            lab.webhook_url = f"{self.server.url}/webhooks/gitlab"
            self.say(f"Simulated forge on {forge_server.url}; Veilleur on {self.server.url}")
            self.say(
                f"Simulated GitLab on {lab_server.url}: Stad Gent's project {world.GENT_REPO}, "
                f"which Paris's OSPO oversees (ospo.members)"
            )
            self.say(f"Demo data: {db_url}")
            forge.scenario.install(world.ORG)
            self._idle()
            self._play()
            result = self.summary()
            self.explore(result)
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
            lab_server.stop()
            stack.close()
            forge_server.stop()
            smtp.stop()
            forge.close()

    def _idle(self) -> None:
        wait_idle(self.app.state.engine, self.forge, self.app.state.worker, gitlab=self.gitlab)

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
        from bot.periodic import sweeper_for

        worker = self.app.state.worker
        result = worker.call(sweeper_for(worker.runtime).run(when), timeout=120)
        self._idle()
        if result.actions:
            self.sweep_log.append((when, list(result.actions)))
        reminded = {
            a.split("veilleur:reminder:", 1)[1].split(":")[1]
            for a in result.actions
            if "veilleur:reminder:" in a
        }
        escalated = {
            a.split("once='sla:", 1)[1].split(":")[0]
            for a in result.actions
            if "kind='escalated'" in a and "once='sla:" in a
        }
        for ref in sorted(reminded):
            shown = gent.shown_ref(ref)
            self.say(f"{when:%a %d %b %H:%M}    Veilleur reminds the maintainers of {shown}")
        for ref in sorted(escalated):
            self.say(
                f"{when:%a %d %b %H:%M}    Veilleur escalates {gent.shown_ref(ref)} to the OSPO "
                "(mail and list)"
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
        return out + gent.bot_notes(self.gitlab)

    def written(self) -> dict[str, str]:
        """One message of each kind, as the forge shows it: the Dutch welcome, the first
        reminder; and the escalation mail (an escalation is no comment on the item)."""
        wanted = {
            "welcome": f"veilleur-template:{T.WELCOME_ISSUE}/nl",
            "reminder": f"veilleur-template:{T.REMINDER}/",
        }
        found: dict[str, str] = {}
        bot = self.forge.bot_login
        for r in self.forge.repos.values():
            for c in sorted(r.comments.values(), key=lambda c: (c.created_at, c.id)):
                for kind, tag in wanted.items():
                    if c.user == bot and tag in c.body and kind not in found:
                        ref = f"{r.full_name}#{c.issue_number}"
                        when = c.created_at.astimezone(script.PARIS)
                        found[kind] = f"{ref}, {when:%a %d %b %H:%M}\n{visible(c.body)}"
        mail = next((m for m in self.mailbox.messages if "escalation" in (m["key"] or "")), None)
        if mail:
            found["escalation_mail"] = (
                f"To: {', '.join(mail['to'])}\nSubject: {mail['subject']}\n\n{mail['text']}"
            )
        return found

    def explore(self, result: dict[str, Any]) -> None:
        """What the bot wrote, in full, and the commands to explore the kept data."""
        titles = {
            "welcome": "A welcome, in Dutch",
            "reminder": "A reminder to the maintainers",
            "escalation_mail": "The escalation mail to the OSPO",
        }
        for kind, text in result["written"].items():
            self.say(f"\n== {titles[kind]} ==\n{text.rstrip()}")
        week = (result.get("digest") or {}).get("week")
        db = f"--database-url {shlex.quote(self.db_url)}"
        self.say("\n== Explore the demo's data (kept until the next demo) ==")
        self.say(f"veilleur {db} digest --org {world.ORG}" + (f" --week {week}" if week else ""))
        self.say(f"veilleur {db} deliveries")

    def summary(self) -> dict[str, Any]:
        comments = self.bot_comments()
        counts = Counter(c["template"] for c in comments)
        labels: dict[str, list[str]] = {}
        for key, (repo, n) in self.story.items.items():
            labels[key] = self._labels(repo, n)
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
                # found by marker: the title is in the organisation's language
                and any(f"<!-- veilleur:{kind}:" in (i.body or "") for kind in WAITING_KINDS)
            ],
            "digest": digest,
            "written": self.written(),
            "database_url": self.db_url,
            "forge_url": self.forge.html_url,
            "gitlab_url": self.gitlab.url,
            "dashboard": self._dashboard(),
        }
        self.say("\n== What Veilleur did ==")
        self.say(f"labelled outside contributions: {sum(1 for v in labels.values() if v)}")
        for template, n in sorted(counts.items()):
            self.say(f"{template or 'other'}: {n}")
        self.say(f"escalation mails to the OSPO: {len(self.mailbox.messages)}")
        self.say(gent.forges_line(digest))
        if digest is not None:
            self.say(f"\n== Weekly digest {digest['week']} ==")
            self.say(
                digest.get("markdown")
                or json.dumps(digest["json"], indent=1, ensure_ascii=False)[:4000]
            )
        return result

    def _labels(self, repo: str, n: int) -> list[str]:
        if gent.on_gitlab(repo):
            return gent.labels(self.gitlab, repo, n)
        return sorted(self.forge.get_issue(repo, n).labels)

    def _dashboard(self) -> dict[str, Any]:
        """What Paris's dashboard page lists, read over HTTP as a browser would."""
        import httpx

        url = f"{self.server.url}/orgs/{world.ORG}"
        page = httpx.get(url, timeout=60).text
        return {
            "url": url,
            "github": f"{world.ORG}/lutece-" in page,
            "gitlab": world.GENT_REPO in page,
        }

    def _digest(self) -> dict[str, Any] | None:
        try:
            from bot.digest.compute import compute_digest
        except ImportError:
            return None
        d = compute_digest(
            self.app.state.engine,
            world.ORG,
            None,
            now=self.clock.now(),
            # the dashboard's links (app.state.links): the simulated forges' pages
            url_base=self.app.state.links,
        )
        out: dict[str, Any] = {"week": d.week, "json": d.to_json()}
        try:
            from bot.digest.render import render_digest

            out["markdown"] = render_digest(d, "md", "fr")
        except ImportError:
            pass
        return out


def visible(body: str) -> str:
    """A comment as the forge shows it: without Veilleur's hidden markers."""
    return re.sub(r"<!--.*?-->\n?", "", body, flags=re.DOTALL).strip()


def demo_database(url: str | None) -> str:
    """The demo's database: its own file, started afresh (the simulated forge is new at each
    run, so yesterday's record would not match it), or an empty database the user named."""
    if url is None:
        path = Path.cwd() / DEFAULT_DB
        for leftover in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    from sqlalchemy import inspect

    from bot.storage.db import make_engine

    engine = make_engine(load_settings(database_url=url).database_url)
    try:
        tables = inspect(engine).get_table_names()
        if "deliveries" in tables:
            with Session(engine) as s:
                used = s.scalars(select(col(Delivery.guid)).limit(1)).first() is not None
            if used:
                raise SettingsError(
                    f"The demo needs an empty database, and {url} already holds deliveries: "
                    f"name another with --database-url, or leave it out to use ./{DEFAULT_DB}."
                )
    finally:
        engine.dispose()
    return url


def run_demo(opts: DemoOptions) -> dict[str, Any]:
    return Demo(opts).run()
