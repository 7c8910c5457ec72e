"""Command replies are in the conversation's language (the item's), else the repository's;
never guessed from the command line itself. The city's repository answers in French."""

from __future__ import annotations

from bot.messages.templating import T
from tests.harness import City, Harness, template_tag


def replies(h: Harness, repo: str, n: int, lang: str) -> int:
    tag = template_tag(T.COMMAND_ERROR, lang)
    return sum(tag in c.body for c in h.comments(repo, n))


def test_a_command_reply_follows_the_item_language(harness: Harness, city: City) -> None:
    scenario = harness.forge.scenario
    en = scenario.open_issue(
        city.repo,
        city.citizen_en,
        "Search ignores accents",
        "Searching for a street with an accented name finds nothing at all.",
    )
    nl = scenario.open_issue(
        city.repo,
        city.citizen_nl,
        "Meldingen komen dubbel binnen",
        "Elke melding die ik verstuur, verschijnt twee keer in het overzicht.",
    )
    harness.wait()
    # A maintainer's invalid command; on the English item, with a French remark around it.
    scenario.comment(city.repo, en, city.maintainer, "/snooze 500d")
    scenario.comment(city.repo, nl, city.maintainer, "Je regarde ça.\n\n/snooze 500d")
    harness.wait()
    assert replies(harness, city.repo, en, "en") == 1 and replies(harness, city.repo, en, "fr") == 0
    assert replies(harness, city.repo, nl, "nl") == 1 and replies(harness, city.repo, nl, "fr") == 0
    assert harness.failures() == []


def test_an_item_too_short_to_tell_gets_the_repository_language(
    harness: Harness, city: City
) -> None:
    n = harness.forge.scenario.open_issue(city.repo, city.citizen_en, "Typo", "")
    harness.wait()
    harness.forge.scenario.comment(city.repo, n, city.maintainer, "/snooze 500d")
    harness.wait()
    assert replies(harness, city.repo, n, "fr") == 1  # city.repo's `language: fr`
