"""`veilleur replay`: the engine on a small hand-made history, the attention figures computed
by hand, the CLI's three formats, and the busy-organisation generator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config.loader import load_default, validate_layers
from bot.digest.attention import attention_figures, mentions_in, percentile
from bot.replay.engine import Produced, replay_history
from bot.replay.history import Entry, History, ItemRecord
from bot.runtime import handler_modules
from bot.sla.calendar import BusinessCalendar
from bot.storage.models import TimelineKind as K
from tests.web_fixtures import web_factory as web_factory  # noqa: F401 (fixture)

PARIS = ZoneInfo("Europe/Paris")
REPO = "paris/carte"
BODY = "Bonjour, la carte ne s'affiche pas sur mobile depuis la dernière version du site."


def at(day: int, hh: int, mm: int = 0) -> datetime:
    """Day 0 is Monday 7 September 2026 (no French holiday for weeks)."""
    local = datetime(2026, 9, 7, hh, mm, tzinfo=PARIS) + timedelta(days=day)
    return local.replace(tzinfo=PARIS).astimezone(UTC)


def config(**extra: Any) -> Any:
    layer = {"language": "fr", "maintainers": {"users": ["hugo"]}} | extra
    cfg, errors = validate_layers(load_default(), (layer, "test"), None)
    assert cfg is not None, errors
    return cfg


def history() -> History:
    items, entries = [], {}

    def add(n: int, kind: str, author: str, cls: str, created: datetime, *es: Entry) -> None:
        items.append(ItemRecord(REPO, n, kind, f"Carte {n}", author, cls, created, BODY))
        entries[(REPO, n)] = [Entry(K.OPENED, created, author, cls, {}), *es]

    # Before the replay starts: backlog, labelled overdue but never reminded (grace rule).
    add(5, "issue", "bob", "external", at(-10, 10))
    # Nobody answers: reminders, then the escalation.
    add(1, "issue", "camille", "external", at(0, 10))
    # A maintainer labels, then asks the author something; the author answers later.
    add(2, "pull", "alice", "external", at(1, 10),
        Entry(K.LABELED, at(2, 11), "hugo", "maintainer", {"label": "carte"}),
        Entry(K.COMMENTED, at(3, 11), "hugo", "maintainer",
              {"body": "Pouvez-vous ajouter un test ?", "asks_author": True}),
        Entry(K.COMMENTED, at(7, 15), "alice", "external", {"body": "Voilà."}))  # fmt: skip
    # Camille again (no second welcome), snoozed by a maintainer for a week.
    add(3, "issue", "camille", "external", at(2, 10),
        Entry(K.SNOOZED, at(2, 12), "hugo", "maintainer",
              {"until": at(9, 12).isoformat()}))  # fmt: skip
    # A member's own issue: Veilleur leaves it alone.
    add(4, "issue", "hugo", "maintainer", at(2, 11))
    return History("paris", [REPO], items, entries, {}, None)


def run(exhaustive: bool = False, days: int = 21) -> list[Produced]:
    cfg = config()
    result = replay_history(
        history(), at(0, 0), at(days, 0), lambda _r: cfg, timedelta(minutes=15),
        exhaustive=exhaustive, handlers=handler_modules(),
    )  # fmt: skip
    return result.produced


def comments(produced: list[Produced], number: int) -> list[Produced]:
    return [p for p in produced if p.what == "comment" and p.number == number]


def test_sweeping_only_when_something_can_change_gives_what_every_sweep_gives() -> None:
    assert run(exhaustive=False) == run(exhaustive=True)


def busy_rules() -> Any:
    """The no-nag rules with every timer on: two maintainers, one in another time zone and
    away for some days, caps of one reminder per sweep, a tight mention budget."""
    return config(
        maintainers={"users": ["hugo", "lea"]},
        sla={"max_reminders_per_sweep_per_repo": 1, "max_reminders_per_sweep_per_org": 1,
             "first_response_days": 1, "remind_every_days": 1},
        people={"lea": {"timezone": "America/Montreal",
                        "away": [{"from": "2026-09-14", "to": "2026-09-16"}]}},
        attention={"max_mentions_per_person_per_week": 2},
    )  # fmt: skip


def with_away(h: History) -> History:
    """Hugo runs `/away` on one item for three days of the second week."""
    h.entries[(REPO, 1)].append(
        Entry("away", at(8, 9), "hugo", "maintainer", {"until": "2026-09-17"})
    )
    return h


@pytest.mark.parametrize("mode", ["item", "daily"])
def test_lazy_sweeps_equal_every_sweep_under_the_no_nag_rules(mode: str) -> None:
    """Working hours per person, absences, caps carried to the next sweep, the mention
    budget and daily mode: waking an item only when something can change still gives what
    evaluating every item at every sweep gives."""
    cfg = busy_rules()
    cfg = cfg.model_copy(update={"sla": cfg.sla.model_copy(update={"reminders": mode})})

    def go(exhaustive: bool) -> list[Produced]:
        return replay_history(
            with_away(history()), at(0, 0), at(21, 0), lambda _r: cfg, timedelta(minutes=15),
            exhaustive=exhaustive, handlers=handler_modules(),
        ).produced  # fmt: skip

    lazy = go(False)
    assert lazy == go(True)
    kinds = {p.kind for p in lazy if p.what == "comment"}
    assert ("daily" in kinds) == (mode == "daily") and {"reminder", "daily"} & kinds


def test_no_reminder_within_a_business_day_of_a_team_action() -> None:
    """The replay runs the live no-nag rules: Hugo labels item 2 when it is overdue; nothing
    reminds anyone on it for a business day."""
    cfg = busy_rules()
    result = replay_history(
        history(), at(0, 0), at(21, 0), lambda _r: cfg, handlers=handler_modules()
    )
    labelled = at(2, 11)
    cal = BusinessCalendar.from_config(cfg.calendar)
    near = [
        p for p in result.produced
        if p.number == 2 and p.kind in ("reminder", "escalation") and p.at >= labelled
        and cal.business_days_between(labelled, p.at) < 1
    ]  # fmt: skip
    assert near == []


def test_the_replay_welcomes_reminds_and_escalates_as_the_rules_say() -> None:
    produced = run()
    cal = BusinessCalendar.from_config(config().calendar)
    # nobody answers: `max_unanswered_reminders` reminders, then the escalation
    unanswered = ["reminder"] * config().sla.max_unanswered_reminders
    assert [p.kind for p in comments(produced, 1)] == ["welcome", *unanswered]
    # the escalation is recorded, not posted on the item (no `ospo.emails` here: no mail)
    assert [p.kind for p in produced if p.number == 1 and p.what == "state"] == ["escalated"]
    first = comments(produced, 1)[1]
    # 3 business days after Monday 10:00 is Thursday 10:00: overdue at the next sweep
    assert first.at == at(3, 10, 15) and first.to == ("hugo",)
    assert all(cal.is_working_time(p.at) for p in produced if p.kind == "reminder")
    assert "welcome" not in [p.kind for p in comments(produced, 3)]  # camille's second item
    assert comments(produced, 4) == [] and comments(produced, 5) == []
    assert any(p.number == 5 and p.what == "label" and p.kind == "overdue" for p in produced)
    mails = [p for p in produced if p.what == "mail"]
    assert [(m.number, m.to) for m in mails] == [(1, ("ospo@paris.example",))] or mails == []


def test_a_snooze_ends_and_the_item_is_reminded_after_it() -> None:
    later = [p for p in comments(run(days=28), 3) if p.kind == "reminder"]
    # snoozed on day 2 after 2 hours of waiting; from the end (Wednesday, day 9, 12:00) the
    # 3 business days less those 2 hours run out on Monday (day 14) at 10:00
    assert later and later[0].at == at(14, 10, 15)


def test_a_question_to_the_author_stops_the_clock_until_the_author_answers() -> None:
    two = [p for p in run(days=28) if p.number == 2]
    moves = [(p.at, p.what, p.kind) for p in two if "awaiting" in p.kind]
    assert (at(3, 11), "label", "awaiting-author") in moves  # turn's plan, on hugo's question
    assert (at(7, 15), "label", "awaiting-maintainer") in moves  # alice answered
    reminders = [p for p in two if p.kind == "reminder"]
    # follow-up: 5 business days after the author's answer on day 7 (Monday 14 Sept)
    assert reminders and reminders[0].at >= at(14, 15)


# -- attention figures on a hand-made history --------------------------------------------------


def test_attention_figures_computed_by_hand() -> None:
    bot = "veilleur[bot]"
    item = ItemRecord(REPO, 1, "issue", "t", "camille", "external", at(0, 10))
    mark = "<!-- veilleur:reminder:sla:paris/carte#1:first_response:reminder:{} -->\n@hugo"
    entries = [
        Entry(K.OPENED, at(0, 10), "camille", "external"),
        Entry(K.COMMENTED, at(0, 10), bot, "bot", {"body": "<!-- veilleur:welcome:x -->\n@camille"}),
        Entry(K.COMMENTED, at(3, 10), bot, "bot", {"body": mark.format(1)}),
        Entry(K.ASSIGNED, at(4, 16), "hugo", "maintainer", {"assignee": "hugo"}),
        Entry(K.COMMENTED, at(5, 10), bot, "bot", {"body": mark.format(2)}),  # hugo acted
        Entry(K.COMMENTED, at(5, 11), "camille", "external", {"body": "up @hugo"}),
        Entry(K.COMMENTED, at(7, 10), "hugo", "maintainer", {"body": "Merci !"}),
    ]  # fmt: skip
    other = ItemRecord(REPO, 2, "issue", "t", "hugo", "maintainer", at(1, 10))
    chat = [Entry(K.COMMENTED, at(1, 11 + i), "marie", "member", {"body": "ok"}) for i in range(3)]
    cal = BusinessCalendar.from_config(config().calendar)
    f = attention_figures(
        [(item, entries), (other, chat)], at(0, 0), at(14, 0), [bot], lambda _r: cal,
        lambda _r: 3.0,
    )  # fmt: skip
    assert (f.comments, f.bot_comments, f.reminders, f.escalations) == (8, 3, 2, 0)
    assert f.bot_comment_share == 0.375 and f.reminder_share == 0.25
    assert f.items == 1 and f.reminded_items == 1 and f.reminders_per_item == 2.0
    assert f.max_reminders_on_an_item == 2
    # hugo: one mention in week 37 (day 3), one in week 37 (day 5) -> 2; camille: 1
    assert f.mentions_max_per_person_week == 2 and f.most_mentioned == "hugo"
    assert f.mentions_p90_per_person_week == 2.0
    assert f.reminded_after_action == 1 and f.reminders_to_recent_actor == 1
    fr = f.first_response
    assert fr["answered"] == 1 and fr["median_business_days"] == 5.0  # Mon 10:00 -> Mon 10:00
    assert fr["later_than_sla"] == 1 and fr["later_than_sla_with_a_reminder"] == 1
    assert fr["reminder_ahead_median_business_days"] == 2.0  # first reminder Thu -> answer Mon
    assert f.targets()["no_reminder_to_a_recent_actor"] is False


def test_mentions_and_percentiles() -> None:
    assert mentions_in("<!-- @hidden -->\n@Hugo, @paris/mainteneurs et ospo@ville.fr") == [
        "hugo", "paris/mainteneurs",
    ]  # fmt: skip
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9.0
    assert percentile([], 0.9) is None


# -- the CLI on a recorded history --------------------------------------------------------------


@pytest.fixture
def recorded(tmp_path: Path) -> str:
    from sqlmodel import Session

    from bot.storage.db import make_engine
    from bot.storage.migrate import upgrade
    from bot.storage.models import Item, TimelineEntry

    url = f"sqlite:///{tmp_path / 'veilleur.db'}"
    upgrade(url)
    engine = make_engine(url)
    h = history()
    with Session(engine) as s:
        for rec in h.items:
            s.add(Item(repo_full_name=rec.repo_full_name, owner="paris", number=rec.number,
                       kind=rec.kind, title=rec.title, author_login=rec.author_login,
                       author_class=rec.author_class, created_at=rec.created_at))  # fmt: skip
            for i, e in enumerate(h.timeline(rec)):
                s.add(TimelineEntry(repo_full_name=REPO, number=rec.number,
                                    occurred_at=e.occurred_at, kind=e.kind,
                                    actor_login=e.actor_login, actor_class=e.actor_class,
                                    source_key=f"{rec.number}:{i}", detail=e.detail))  # fmt: skip
        s.commit()
    engine.dispose()
    return url


def _cli(url: str, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    from bot.cli import main

    code = main(["--database-url", url, "replay", "--org", "paris", "--from", "2026-09-07",
                 "--to", "2026-09-25", *args])  # fmt: skip
    assert code == 0
    return capsys.readouterr().out


def test_cli_formats(recorded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "veilleur.yml"
    cfg.write_text("maintainers:\n  users: [hugo]\nsla:\n  max_reminders: 1\n")
    data = json.loads(_cli(recorded, capsys, "--format", "json", "--config", str(cfg)))
    kinds = [p["kind"] for p in data["produced"] if p["what"] == "comment" and p["number"] == 1]
    assert kinds == ["welcome", "reminder"]  # max_reminders: 1 from --config
    states = [p["kind"] for p in data["produced"] if p["what"] == "state" and p["number"] == 1]
    assert states == ["escalated"]
    reminders = [p for p in data["produced"] if p["what"] == "comment" and p["kind"] == "reminder"]
    assert data["attention"]["reminders"] == len(reminders) == 3 and "targets" in data
    md = _cli(recorded, capsys)
    assert md.startswith("# Replay of paris") and "## Attention" in md and "| reminder |" in md
    page = _cli(recorded, capsys, "--format", "html")
    assert page.startswith("<!doctype html>") and "<h2>Attention</h2>" in page


def test_html_and_markdown_escape_what_comes_from_the_forge() -> None:
    from bot.digest.attention import AttentionFigures
    from bot.replay.engine import ReplayResult
    from bot.replay.report import render

    h = History("<b>org</b>", [REPO], [], {}, {}, None)
    result = ReplayResult(h, at(0, 0), at(1, 0))
    result.produced.append(Produced(at(0, 10), REPO, 1, "label", "<script>x</script>", ("<i>",)))
    page = render(result, AttentionFigures(), 0.1, "html")
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>org" not in page
    md = render(result, AttentionFigures(), 0.1, "md")
    assert "<script>" not in md


def test_the_busy_organisation_is_deterministic_and_shaped_as_cited() -> None:
    from bot.replay.busy import busy_org

    a, b = busy_org(repos=40, days=60), busy_org(repos=40, days=60)
    assert [(i.ref, i.created_at) for i in a.items] == [(i.ref, i.created_at) for i in b.items]
    active = {i.repo_full_name for i in a.items}
    assert len(a.repos) == 40 and 20 <= len(active) < 40  # some repositories stay quiet
    outside = [i for i in a.items if i.author_class in ("external", "partner")]
    assert 0.2 < len(outside) / len(a.items) < 0.5


def test_team_handles_are_counted_apart_from_persons() -> None:
    bot = "veilleur[bot]"
    item = ItemRecord(REPO, 1, "issue", "t", "camille", "external", at(0, 10))
    body = "<!-- veilleur:escalation:sla:paris/carte#1:first_response:escalation -->\n"
    entries = [
        Entry(K.COMMENTED, at(d, 10), bot, "bot", {"body": body + "@paris/ospo @hugo"})
        for d in (0, 1, 2)
    ]
    cal = BusinessCalendar.from_config(config().calendar)
    f = attention_figures([(item, entries)], at(0, 0), at(7, 0), [bot], lambda _r: cal)
    assert f.team_mentions_max_per_week == 3 and f.mentions_max_per_person_week == 3
    assert f.most_mentioned == "hugo" and f.escalations == 3


def test_the_digest_measures_a_recorded_week_as_the_replay_does(tmp_path: Path) -> None:
    """Record what the replay produced, then ask the weekly digest: the same figures."""
    from sqlmodel import Session

    from bot.digest.attention import attention_figures
    from bot.digest.compute import compute_digest
    from bot.digest.render import render_digest
    from bot.storage.db import make_engine
    from bot.storage.migrate import upgrade
    from bot.storage.models import Item, TimelineEntry

    cfg = config()
    result = replay_history(
        history(), at(0, 0), at(21, 0), lambda _r: cfg, handlers=handler_modules()
    )
    url = f"sqlite:///{tmp_path / 'veilleur.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        for rec in result.history.items:
            s.add(Item(repo_full_name=REPO, owner="paris", number=rec.number, kind=rec.kind,
                       title=rec.title, author_login=rec.author_login,
                       author_class=rec.author_class, created_at=rec.created_at))  # fmt: skip
            for i, e in enumerate(result.timelines[(REPO, rec.number)]):
                s.add(TimelineEntry(repo_full_name=REPO, number=rec.number,
                                    occurred_at=e.occurred_at, kind=e.kind,
                                    actor_login=e.actor_login, actor_class=e.actor_class,
                                    actor_type=e.actor_type, source_key=f"{rec.number}:{i}",
                                    detail=e.detail))  # fmt: skip
        s.commit()
    digest = compute_digest(engine, "paris", "2026-W37", now=at(7, 9), configs=cfg)
    engine.dispose()
    cal = BusinessCalendar.from_config(cfg.calendar)
    pairs = [(i, result.timelines[(REPO, i.number)]) for i in result.history.items]
    week = attention_figures(pairs, at(0, 0), at(7, 0), ["veilleur[bot]"], lambda _r: cal)
    assert digest.attention is not None and week.reminders > 0
    got = {k: v for k, v in digest.attention.items() if k != "targets"}
    assert got == week.to_json()
    text = render_digest(digest, "md", "en")
    assert "## Attention" in text and f"reminders and escalations: {week.reminders}" in text
    assert "<h2>Attention</h2>" in render_digest(digest, "html", "fr")


def test_the_dashboard_org_page_shows_the_attention_figures(web_factory: Any) -> None:
    from bot.digest.attention import AttentionFigures
    from tests.web_fixtures import make_digest

    figures = AttentionFigures(comments=40, bot_comments=10, reminders=3, escalations=1,
                               bot_comment_share=0.25, reminder_share=0.1,
                               mentions_max_per_person_week=4,
                               mentions_p90_per_person_week=2.0, reminded_after_action=1)  # fmt: skip
    w = web_factory(public_dashboard=True)

    def digest(org: str, week: str | None, repos: Any) -> Any:
        d = make_digest(org, week)
        d.attention = figures.to_json()
        return d

    w.app.state.digest_source = digest
    page = w.client.get("/orgs/paris").text
    section = page.split('id="attention"', 1)[1].split("</section>", 1)[0]
    assert "comments: 10 of 40 (25%); reminders and escalations: 4 (10%)" in section
    assert "at most 4 (p90 2)" in section and "acted: 1 (0 to that person)" in section


def test_opening_bodies_come_from_the_recorded_webhooks(tmp_path: Path) -> None:
    """The timeline keeps no body; the stored (compressed) `issues.opened` payload does, so
    the request for information is replayed from the real text."""
    from sqlmodel import Session

    from bot.replay.history import load_history
    from bot.storage.db import make_engine
    from bot.storage.migrate import upgrade
    from bot.storage.models import Delivery, Item
    from bot.storage.payloads import pack

    url = f"sqlite:///{tmp_path / 'veilleur.db'}"
    upgrade(url)
    engine = make_engine(url)
    payload = {"action": "opened", "repository": {"full_name": REPO},
               "issue": {"number": 1, "body": "Bug."}}  # fmt: skip
    with Session(engine) as s:
        s.add(
            Item(
                repo_full_name=REPO,
                owner="paris",
                number=1,
                kind="issue",
                title="Carte",
                author_login="camille",
                author_class="external",
                created_at=at(0, 10),
            )
        )
        s.add(
            Delivery(
                guid="g1",
                event="issues",
                action="opened",
                repo_full_name=REPO,
                received_at=at(0, 10),
                payload=pack(json.dumps(payload).encode()),
            )
        )
        s.commit()  # fmt: skip
    history = load_history(engine, "paris", at(30, 0))
    engine.dispose()
    assert [i.body for i in history.items] == ["Bug."]
    cfg = config()
    result = replay_history(history, at(0, 0), at(1, 0), lambda _r: cfg, handlers=handler_modules())
    # the welcome and the request for information, folded into one comment
    assert [p.kind for p in result.produced if p.what == "comment"] == ["request-info"]
