"""Issue #17's reminder rules over the simulated forge, through webhooks, the record and the
sweep: no nagging, caps carried over, `/away`, daily mode, the attention budget in the digest,
and the welcome's answer-by date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.messages.templating import T
from tests.harness import City, Harness

PARIS = ZoneInfo("Europe/Paris")
MON = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)  # Monday 2 March 2026, no holiday that week
WED = MON + timedelta(days=2)
REMINDER = f"veilleur-template:{T.REMINDER}/"
DAILY = f"veilleur-template:{T.DAILY_REMINDER}/"
NOTE = f"veilleur-template:{T.DAILY_NOTE}/"
WAITING_TITLE = "Contributions en attente de réponse"  # the city writes French (#19)


def start(factory: Any, city: City, forge: Any, sla: str = "", extra: str = "") -> Harness:
    """A harness whose repository configuration has `sla` lines added under `sla:`."""
    path = ".github/veilleur.yml"
    text = forge.get_repo(city.repo).files["main"][path]
    text = text.replace("  first_response_days: 2\n", "  first_response_days: 2\n" + sla) + extra
    forge.set_file(city.repo, path, text)
    h = factory()
    forge.scenario.install(city.org)
    h.wait()
    return h


def open_at(h: Harness, when: datetime, city: City, login: str | None = None) -> int:
    h.clock.set(when)
    n = h.forge.scenario.open_issue(
        city.repo,
        login or city.citizen_en,
        "Map is broken",
        "The map of the city does not load on my phone when I zoom in on my district.",
    )
    h.wait()
    return n


def tagged(h: Harness, city: City, n: int, tag: str) -> list[Any]:
    return [c for c in h.comments(city.repo, n) if tag in c.body]


def act(h: Harness, when: datetime, step: Any) -> None:
    h.clock.set(when)
    step()
    h.wait()


def test_no_reminder_the_business_day_after_someone_acted_nor_to_who_acted_since(
    harness: Harness, city: City
) -> None:
    h = harness
    n = open_at(h, MON, city)
    act(
        h,
        WED - timedelta(hours=1),
        lambda: h.forge.scenario.label(city.repo, n, city.maintainer, "bug"),
    )
    h.sweep(WED + timedelta(hours=1))  # overdue, but a maintainer labelled it two hours ago
    h.sweep(WED + timedelta(hours=6))
    assert tagged(h, city, n, REMINDER) == []
    h.sweep(WED + timedelta(days=1))  # Thursday 10:00: a business day after the label
    (first,) = tagged(h, city, n, REMINDER)
    assert "@hugo" in first.body
    # hugo acts (a label is not an answer) after the reminder: never reminded again for it
    act(h, WED + timedelta(days=1, hours=1),
        lambda: h.forge.scenario.label(city.repo, n, city.second_maintainer, "carte"))  # fmt: skip
    h.sweep(WED + timedelta(days=6, hours=1))  # Tuesday: reminder 2 would be due
    assert len(tagged(h, city, n, REMINDER)) == 1
    assert h.failures() == []


def test_caps_carry_the_rest_to_the_next_sweep_in_wait_order(
    harness_factory: Any, city: City, forge: Any
) -> None:
    h = start(harness_factory, city, forge, "  max_reminders_per_sweep_per_repo: 1\n")
    older = open_at(h, MON, city)
    newer = open_at(h, MON + timedelta(minutes=30), city, city.citizen_nl)
    h.sweep(WED + timedelta(hours=1))
    assert len(tagged(h, city, older, REMINDER)) == 1 and tagged(h, city, newer, REMINDER) == []
    h.sweep(WED + timedelta(hours=2))
    assert len(tagged(h, city, newer, REMINDER)) == 1  # carried, not dropped
    assert len(tagged(h, city, older, REMINDER)) == 1
    # the mentions the budget counts are dated by the sweep's clock, not the machine's
    mentions = h.action_keys("mention:")
    assert mentions and {m.done_at.replace(tzinfo=None) for m in mentions} <= {
        (WED + timedelta(hours=k)).astimezone(UTC).replace(tzinfo=None) for k in (1, 2)
    }


def test_away_command_sends_the_reminder_to_the_next_responsible_people(
    harness: Harness, city: City
) -> None:
    h = harness
    n = open_at(h, MON, city)
    act(h, MON + timedelta(hours=1), lambda: h.forge.scenario.comment(
        city.repo, n, city.second_maintainer, "/away until 2026-03-13"))  # fmt: skip
    replies = [
        c for c in h.comments(city.repo, n) if f"veilleur-template:{T.AWAY_REPLY}/" in c.body
    ]
    assert len(replies) == 1 and "13 March 2026" in replies[0].body
    h.sweep(WED + timedelta(hours=1))
    (rem,) = tagged(h, city, n, REMINDER)
    assert "@hugo" not in rem.body and "mainteneurs" in rem.body  # maintainers.teams, next


def test_daily_mode_one_list_a_day_per_person_and_one_note_per_item(
    harness_factory: Any, city: City, forge: Any
) -> None:
    h = start(harness_factory, city, forge, "  reminders: daily\n")
    a = open_at(h, MON, city)
    b = open_at(h, MON + timedelta(minutes=30), city, city.citizen_nl)
    h.sweep(WED + timedelta(hours=1))
    h.sweep(WED + timedelta(hours=5))  # same day: the list is edited, not posted again
    (lst,) = h.issues_titled(city.repo, WAITING_TITLE)
    daily = tagged(h, city, lst.number, DAILY)
    assert len(daily) == 1 and "@hugo" in daily[0].body
    assert f"#{a}" in daily[0].body and f"#{b}" in daily[0].body
    for n in (a, b):
        assert tagged(h, city, n, REMINDER) == [] and len(tagged(h, city, n, NOTE)) == 1
    # the author of `a` asks again on Thursday (the first reminder is answered by someone), and
    # `c` comes: on Friday reminder 2 of `a` is due (listed already) and `c`'s first (new): a
    # new day's list, because something new is due
    act(h, WED + timedelta(days=1, hours=2), lambda: h.forge.scenario.comment(
        city.repo, a, city.citizen_en, "Any news?"))  # fmt: skip
    h.sweep(WED + timedelta(days=2, hours=2))
    assert len(tagged(h, city, lst.number, DAILY)) == 1  # only `a`, listed before: no new list
    assert len(h.action_keys(f"sla:{city.repo}#{a}:first_response:reminder:")) == 2
    c = open_at(h, WED + timedelta(days=2, hours=3), city, city.citizen_nl)
    h.sweep(WED + timedelta(days=7, hours=2))  # c is due: something new
    assert len(tagged(h, city, lst.number, DAILY)) == 2
    assert len(tagged(h, city, c, NOTE)) == 1
    for n in (a, b):
        assert len(tagged(h, city, n, NOTE)) == 1  # the contributor is told once
    assert h.action_keys(f"daily-listed:sla:{city.repo}#{c}:")
    assert h.failures() == []
    # The live digest's attention figures count the lists as the replay does
    # (bot/replay/report.py daily_lists): each new list is one of Veilleur's comments and a
    # reminder, mentioning its person; its edits through the day are no new comment.
    from bot.digest.compute import compute_digest

    ours = [c for n in (a, b, c, lst.number) for c in h.comments(city.repo, n)]
    for week in ("2026-W10", "2026-W11"):
        d = compute_digest(h.engine, city.org, week, now=WED + timedelta(days=14))
        first, last = d.start.astimezone(UTC), d.end.astimezone(UTC)
        said = [x for x in ours if first <= x.created_at.astimezone(UTC) < last]
        lists = [x for x in said if DAILY in x.body]
        assert len(lists) == 1  # Wednesday's of each week
        figures = d.attention or {}
        assert (figures["reminders"], figures["escalations"]) == (len(lists), 0)
        assert figures["bot_comments"] == len(said)
        assert (figures["most_mentioned"], figures["mentions_max_per_person_week"]) == ("hugo", 1)


def test_weekly_mention_budget_holds_and_the_digest_says_why(
    harness_factory: Any, city: City, forge: Any
) -> None:
    from bot.digest.compute import compute_digest
    from bot.digest.render import render_digest

    extra = "attention:\n  max_mentions_per_person_per_week: 1\n"
    h = start(harness_factory, city, forge, extra=extra)
    a = open_at(h, MON, city)
    b = open_at(h, MON + timedelta(minutes=30), city, city.citizen_nl)
    h.sweep(WED + timedelta(hours=1))
    assert len(tagged(h, city, a, REMINDER)) == 1 and tagged(h, city, b, REMINDER) == []
    (held,) = h.action_keys(f"attention:{city.repo}:2026-03-04:")
    assert "held" in held.key and "hugo" in held.key
    digest = compute_digest(h.engine, city.org, "2026-W10", now=MON + timedelta(days=8))
    (row,) = digest.attention_decisions
    assert (row["outcome"], row["person"], row["limit"]) == ("held", "hugo", 1)
    text = render_digest(digest, "md", "en")
    assert "held the reminder" in text and "\n## Attention\n" in text


def test_welcome_says_by_when_a_maintainer_should_answer(harness: Harness, city: City) -> None:
    n = open_at(harness, MON, city)
    welcome = next(c for c in harness.comments(city.repo, n) if "veilleur:welcome" in c.body)
    assert "by Wednesday, 4 March 2026, 10:00" in welcome.body.replace("\\", "")


def test_reminders_wait_for_the_recipients_own_working_hours(
    harness_factory: Any, city: City, forge: Any
) -> None:
    extra = "people:\n  hugo:\n    timezone: America/New_York\n"
    h = start(harness_factory, city, forge, extra=extra)
    n = open_at(h, MON, city)
    h.sweep(WED + timedelta(hours=1))  # 11:00 in Paris, 05:00 in New York
    assert tagged(h, city, n, REMINDER) == []
    h.sweep(WED + timedelta(hours=6))  # 16:00 in Paris, 10:00 in New York
    (rem,) = tagged(h, city, n, REMINDER)
    assert "@hugo" in rem.body
