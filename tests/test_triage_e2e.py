"""Triage scenarios over HTTP through the simulated forge, with real payload shapes."""

from __future__ import annotations

from bot.effects.actions import marker
from bot.messages.language import detect_language
from bot.messages.templating import T
from tests.harness import City, Harness, template_tag

WELCOME = "veilleur:welcome:"


def bot_comments_with(h: Harness, repo: str, n: int, tag: str) -> list[object]:
    return [c for c in h.comments(repo, n) if tag in c.body]


def outside_control(h: Harness, city: City) -> int:
    """An outside contributor's issue opened beside a case that must get nothing: once the
    harness is idle, its welcome proves the bot was running, so silence was its choice."""
    return h.forge.scenario.open_issue(
        city.repo,
        city.citizen_en,
        "Search is slow",
        "Searching for a street name takes more than ten seconds on the public portal.",
    )


def assert_control_welcomed(h: Harness, city: City, n: int) -> None:
    assert len(bot_comments_with(h, city.repo, n, template_tag(T.WELCOME_ISSUE, "en"))) == 1


def test_external_first_issue_in_french(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_issue(
        city.repo,
        city.citizen_fr,
        "La carte ne s'affiche pas",
        "Bonjour, la carte des équipements ne s'affiche pas sur mobile depuis la mise à jour. "
        "Pouvez-vous regarder ? Merci beaucoup.",
    )
    harness.wait()
    assert harness.failures() == []
    assert {
        "external",
        "first-time-contributor",
        "needs-triage",
        "awaiting-maintainer",
        "cartographie",
    } <= harness.labels(city.repo, n)
    welcome = bot_comments_with(harness, city.repo, n, template_tag(T.WELCOME_ISSUE, "fr"))
    assert len(welcome) == 1
    assert detect_language(welcome[0].body) == "fr"  # type: ignore[attr-defined]


def test_english_and_dutch_contributors_get_their_language(harness: Harness, city: City) -> None:
    en = harness.forge.scenario.open_issue(
        city.repo,
        city.citizen_en,
        "Map does not load",
        "Hello, the map of the city does not load on my phone since the last update. Could you have a look please?",
    )
    nl = harness.forge.scenario.open_issue(
        city.repo,
        city.citizen_nl,
        "Kaart laadt niet",
        "Hallo, de kaart van de stad laadt niet op mijn telefoon sinds de laatste update. Kunnen jullie kijken?",
    )
    harness.wait()
    assert len(bot_comments_with(harness, city.repo, en, template_tag(T.WELCOME_ISSUE, "en"))) == 1
    assert len(bot_comments_with(harness, city.repo, nl, template_tag(T.WELCOME_ISSUE, "nl"))) == 1


def test_private_member_marked_contributor_gets_nothing(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_issue(
        city.repo,
        city.private_member,
        "Refonte du module",
        "Je propose de refondre le module de recherche pour accélérer les requêtes.",
    )
    payload = harness.forge.events("issues", "opened")[-1].payload
    control = outside_control(harness, city)
    harness.wait()
    assert payload["issue"]["author_association"] in ("CONTRIBUTOR", "NONE")  # the misleading hint
    assert harness.labels(city.repo, n) == set()
    assert harness.comments(city.repo, n) == []
    assert_control_welcomed(harness, city, control)


def test_partner_city_and_internal_supplier(harness: Harness, city: City) -> None:
    p = harness.forge.scenario.open_issue(
        city.repo,
        city.partner_user,
        "Export CSV des équipements",
        "Bonjour, à Lyon nous aurions besoin d'un export CSV des équipements publics pour notre portail.",
    )
    s = harness.forge.scenario.open_issue(
        city.repo,
        city.supplier_user,
        "Mise à jour des dépendances",
        "Mise à jour des dépendances du module de recherche vers les dernières versions.",
    )
    harness.wait()
    labels = harness.labels(city.repo, p)
    assert "partner: Lyon" in labels and "external" not in labels and "needs-triage" in labels
    assert harness.labels(city.repo, s) == set()  # internal supplier counts as the team
    assert harness.comments(city.repo, s) == []
    assert (
        len(bot_comments_with(harness, city.repo, p, f"veilleur-template:{T.WELCOME_ISSUE}/")) == 1
    )


def test_bot_author_is_ignored(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_issue(
        city.repo, city.other_bot, "Update dependency foo to v2", "This PR updates foo."
    )
    control = outside_control(harness, city)
    harness.wait()
    assert harness.labels(city.repo, n) == set() and harness.comments(city.repo, n) == []
    assert_control_welcomed(harness, city, control)


def test_empty_issue_gets_one_request_for_info(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_issue(city.repo, city.citizen_fr, "Bug", "")
    harness.wait()
    assert "awaiting-author" in harness.labels(city.repo, n)
    assert "awaiting-maintainer" not in harness.labels(city.repo, n)
    assert (
        len(bot_comments_with(harness, city.repo, n, f"veilleur-template:{T.REQUEST_INFO_ISSUE}/"))
        == 1
    )


def test_pull_request_touching_docs(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_pull(
        city.repo,
        city.citizen_en,
        "Fix typo in guide",
        # Long enough for the low-accuracy language models (bot/messages/language.py): "Fixes a typo
        # in the guide." alone now gets the repository's language (French here).
        "Fixes a typo in the guide where the link was wrong.",
        files={"docs/guide.md": "Guide!\n"},
    )
    harness.wait()
    labels = harness.labels(city.repo, n)
    assert {"external", "documentation", "needs-triage"} <= labels
    assert len(bot_comments_with(harness, city.repo, n, template_tag(T.WELCOME_PULL, "en"))) == 1
    # no tests changed: the checklist asks for them, and the turn is the author's
    assert (
        len(bot_comments_with(harness, city.repo, n, f"veilleur-template:{T.PR_CHECKLIST}/")) == 1
    )
    assert "awaiting-author" in labels


def test_same_delivery_twice_gives_exactly_one_comment(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_issue(
        city.repo,
        city.citizen_en,
        "Search is slow",
        "Searching for a street name takes more than ten seconds on the public portal.",
    )
    harness.wait()
    opened = harness.forge.events("issues", "opened")[-1]
    harness.forge.redeliver(opened.id, wait=True)  # same GUID: already processed, answered 200
    harness.forge.emit(("issues", opened.payload))  # a new GUID with the same content
    harness.wait()
    welcomes = [c for c in harness.comments(city.repo, n) if WELCOME in c.body]
    assert len(welcomes) == 1


def test_welcome_at_most_once_per_repository_and_user(harness: Harness, city: City) -> None:
    first = harness.forge.scenario.open_issue(
        city.repo,
        city.citizen_en,
        "Search is slow",
        "Searching for a street name takes more than ten seconds on the portal.",
    )
    harness.wait()
    second = harness.forge.scenario.open_issue(
        city.repo,
        city.citizen_en,
        "Another thing",
        "The footer link to the accessibility statement is broken on every page.",
    )
    harness.wait()
    assert "first-time-contributor" in harness.labels(city.repo, first)
    assert len([c for c in harness.comments(city.repo, first) if WELCOME in c.body]) == 1
    second_labels = harness.labels(city.repo, second)
    assert "external" in second_labels and "first-time-contributor" not in second_labels
    assert [c for c in harness.comments(city.repo, second) if WELCOME in c.body] == []


def test_invalid_config_opens_one_issue_with_lines(harness: Harness, city: City) -> None:
    bad = "language: fr\nlabels:\n  extrnal: outside\nsla:\n  first_response_days: soon\n"
    harness.forge.scenario.push_files(
        city.repo, "main", city.maintainer, {".github/veilleur.yml": bad}, "config"
    )
    harness.wait()
    issues = harness.issues_titled(city.repo, "Veilleur configuration error")
    assert len(issues) == 1 and issues[0].state == "open"
    assert "veilleur.yml:3" in issues[0].body and "veilleur.yml:5" in issues[0].body
    # still broken: the same issue is updated, not a second one
    harness.forge.scenario.push_files(
        city.repo, "main", city.maintainer, {".github/veilleur.yml": bad + "oops: 1\n"}, "more"
    )
    harness.wait()
    issues = harness.issues_titled(city.repo, "Veilleur configuration error")
    assert len(issues) == 1 and "veilleur.yml:6" in issues[0].body
    # the last valid config still applies meanwhile: French welcome
    n = harness.forge.scenario.open_issue(
        city.repo,
        city.citizen_fr,
        "Carte",
        "Bonjour, la carte ne fonctionne pas sur mon téléphone depuis ce matin, merci de regarder.",
    )
    harness.wait()
    assert len(bot_comments_with(harness, city.repo, n, template_tag(T.WELCOME_ISSUE, "fr"))) == 1
    # fixed: the issue is closed
    harness.forge.scenario.push_files(
        city.repo, "main", city.maintainer, {".github/veilleur.yml": "language: fr\n"}, "fix"
    )
    harness.wait()
    issues = harness.issues_titled(city.repo, "Veilleur configuration error")
    assert len(issues) == 1 and issues[0].state == "closed"
    assert harness.failures() == []


def test_config_change_in_pull_request_gets_a_check_run(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_pull(
        city.repo,
        city.maintainer,
        "Tune config",
        "",
        files={".github/veilleur.yml": "labels:\n  extrnal: x\n"},
    )
    harness.wait()
    runs = harness.forge.get_repo(city.repo).check_runs
    assert len(runs) == 1 and runs[0].conclusion == "failure"
    assert "veilleur.yml:2" in str(runs[0].output)
    assert n > 0


def test_a_refusal_is_one_comment_in_the_item_language(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_issue(
        city.repo,
        city.citizen_fr,
        "La carte ne s'affiche pas",
        "Bonjour, la carte des équipements ne s'affiche pas sur mobile depuis la mise à jour.",
    )
    harness.wait()
    before = len(harness.comments(city.repo, n))
    # Written in English, but the conversation is French: the answer follows the item.
    harness.forge.scenario.comment(city.repo, n, city.citizen_fr, "/label +urgent\n/snooze 3d")
    harness.wait()
    (reply,) = harness.comments(city.repo, n)[before:]
    assert reply.body.count(template_tag(T.COMMAND_ERROR, "fr")) == 2
    assert "`/label +urgent`" in reply.body and "`/snooze 3d`" in reply.body
    assert harness.failures() == []


def test_commands_authorised_and_not(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_issue(
        city.repo,
        city.citizen_en,
        "Map is broken",
        "The map does not load on the city portal when I zoom in on my district.",
    )
    harness.wait()
    harness.forge.scenario.comment(city.repo, n, city.citizen_en, "/label +urgent")
    harness.wait()
    assert "urgent" not in harness.labels(city.repo, n)
    refusals = bot_comments_with(harness, city.repo, n, f"veilleur-template:{T.COMMAND_ERROR}/")
    assert len(refusals) == 1
    harness.forge.scenario.comment(
        city.repo, n, city.maintainer, "Thanks!\n\n/triage accepted\n/label +urgent\n/assign @marie"
    )
    harness.wait()
    labels = harness.labels(city.repo, n)
    assert "urgent" in labels and "needs-triage" not in labels
    assert harness.forge.get_issue(city.repo, n).assignees == [city.maintainer]
    assert (
        len(bot_comments_with(harness, city.repo, n, f"veilleur-template:{T.COMMAND_ERROR}/")) == 1
    )
    assert harness.failures() == []


def test_whose_turn_follows_the_conversation(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_issue(
        city.repo,
        city.citizen_en,
        "Map is broken",
        "The map does not load on the city portal when I zoom in on my district.",
    )
    harness.wait()
    harness.forge.scenario.comment(city.repo, n, city.maintainer, "Which browser do you use?")
    harness.wait()
    labels = harness.labels(city.repo, n)
    assert (
        "awaiting-author" in labels
        and "awaiting-maintainer" not in labels
        and "needs-triage" not in labels
    )
    harness.forge.scenario.comment(city.repo, n, city.citizen_en, "Firefox 140 on Android.")
    harness.wait()
    labels = harness.labels(city.repo, n)
    assert "awaiting-maintainer" in labels and "awaiting-author" not in labels


def test_dry_run_records_and_does_nothing(
    harness_factory: object, city: City, forge: object
) -> None:
    h = harness_factory(dry_run=True)  # type: ignore[operator]
    h.forge.scenario.install(city.org)
    h.wait()
    n = h.forge.scenario.open_issue(
        city.repo,
        city.citizen_en,
        "Map is broken",
        "The map does not load on the city portal when I zoom in on my district.",
    )
    h.wait()
    assert h.labels(city.repo, n) == set() and h.comments(city.repo, n) == []
    recorded = [a.detail for a in h.action_keys("dry-run:") if a.dry_run]
    assert any("AddLabels" in (d or "") and "external" in (d or "") for d in recorded)
    assert any(
        "UpsertComment" in (d or "") and marker("welcome", f"{city.repo}#{n}") in (d or "")
        for d in recorded
    )


def test_org_can_override_a_template(harness: Harness, city: City) -> None:
    harness.forge.add_repo(
        f"{city.org}/.github",
        files={
            ".github/veilleur/templates/fr/welcome_issue.md.j2": "Bienvenue à Paris, {{ author }} ! {{ 7 * 6 }}\n"
        },
    )
    n = harness.forge.scenario.open_issue(
        city.repo,
        city.citizen_fr,
        "La carte ne s'affiche pas",
        "Bonjour, la carte des équipements ne s'affiche pas sur mobile depuis la mise à jour.",
    )
    harness.wait()
    (welcome,) = bot_comments_with(harness, city.repo, n, template_tag(T.WELCOME_ISSUE, "fr"))
    assert "Bienvenue à Paris, camille ! 42" in welcome.body  # type: ignore[attr-defined]


def test_contributor_text_is_never_template_code(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_issue(
        city.repo, "{{7*7}}", "{% raw %}@paris/mainteneurs {{ config }}", ""
    )
    harness.wait()
    comments = harness.comments(city.repo, n)
    bodies = " ".join(c.body for c in comments)
    # the welcome and the request for information were written, with the login as data
    tags = {f"veilleur-template:{T.WELCOME_ISSUE}/", f"veilleur-template:{T.REQUEST_INFO_ISSUE}/"}
    assert {t for t in tags if any(t in c.body for c in comments)} == tags
    assert "49" not in bodies and "@paris/mainteneurs" not in bodies
