"""`handlers.triage.plan`: what Veilleur does about a just-opened issue or pull request.

Real `issues.opened` / `pull_request.opened` payloads, a configuration, the author's class
from the facts the forge would give: no server, no forge.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.config.schema import VeilleurConfig
from bot.dispatch.context import Event
from bot.effects import labels
from bot.effects.actions import AddLabels, EnsureLabel, UpsertComment
from bot.messages.language import detect_item_language
from bot.messages.templating import Renderer
from bot.record.people import Classification
from handlers import triage
from tests.plan_support import changed, classified, config, event, example, kinds, user

RENDERER = Renderer()


def triage_input(
    ev: Event,
    cfg: VeilleurConfig,
    who: Classification,
    *,
    first_time: bool = True,
    files: tuple[str, ...] = (),
    commits: tuple[str, ...] = (),
    lang: str | None = None,
) -> triage.TriageInput:
    """The input `triage.handle` builds from the event (the look-ups given as arguments)."""
    raw = ev.item
    assert raw is not None and ev.repo is not None
    return triage.TriageInput(
        repo=ev.repo,
        number=raw["number"],
        is_pull=ev.name == "pull_request",
        title=raw.get("title") or "",
        body=raw.get("body") or "",
        author=(raw.get("user") or {}).get("login", ""),
        author_class=who,
        first_time=first_time,
        lang=lang or cfg.language,
        config=cfg,
        files=files,
        commit_messages=commits,
        no_comments=ev.action == "opened" and raw.get("comments") == 0,
    )


def plan_for(name: str, variant: str = "opened", text: str = "", **kw: Any) -> list[Any]:
    """Plan the real example `<name>/<variant>` for an outside author (no permission)."""
    ev = event(name, example(name, variant))
    cfg = config(text)
    author = (ev.item or {}).get("user") or {}
    return triage.plan(triage_input(ev, cfg, classified(author, cfg), **kw), RENDERER)


def labels_added(actions: list[Any]) -> tuple[str, ...]:
    (add,) = [a for a in actions if isinstance(a, AddLabels)]
    assert isinstance(add, AddLabels)
    return add.labels


def comments(actions: list[Any]) -> list[UpsertComment]:
    return [a for a in actions if isinstance(a, UpsertComment)]


# -- who is triaged -------------------------------------------------------------------------------


def test_an_outside_issue_is_labelled_welcomed_and_waits_for_a_maintainer() -> None:
    actions = plan_for("issues")
    assert labels_added(actions) == (
        "external",
        "first-time-contributor",
        "needs-triage",
        "awaiting-maintainer",
    )
    # Each label is created (with its colour) before it is added; the welcome comes last.
    assert kinds(actions) == ["EnsureLabel"] * 4 + ["AddLabels", "UpsertComment"]
    ensured = [a for a in actions if isinstance(a, EnsureLabel)]
    assert [(e.name, e.color) for e in ensured][0] == (
        "external",
        labels.LABEL_STYLE["external"][0],
    )
    (welcome,) = comments(actions)
    assert welcome.repo == "Codertocat/Hello-World" and welcome.number == 1
    assert welcome.marker == "<!-- veilleur:welcome:Codertocat/Hello-World#1 -->"
    assert welcome.once == "welcome:codertocat:codertocat"  # once per person and owner
    assert welcome.update_existing is False  # a welcome is never rewritten
    assert welcome.item_had_no_comments is True  # the payload says `comments: 0`
    assert "@Codertocat" not in welcome.body  # the author follows their own item anyway
    assert "Codertocat" in welcome.body and "within 3 working days" in welcome.body


@pytest.mark.parametrize(
    ("permission", "member"),
    [("write", False), ("triage", False), ("admin", False), (None, True)],
    ids=["write", "triage", "admin", "org-member"],
)
def test_a_team_author_gets_nothing(permission: str | None, member: bool) -> None:
    ev = event("issues", example("issues", "opened"))
    cfg = config()
    who = classified((ev.item or {})["user"], cfg, permission=permission, member=member)
    assert who.is_team
    assert triage.plan(triage_input(ev, cfg, who), RENDERER) == []


def test_a_listed_maintainer_gets_nothing() -> None:
    ev = event("issues", example("issues", "opened"))
    cfg = config("maintainers:\n  users: [codertocat]\n")  # logins compare case-insensitively
    who = classified((ev.item or {})["user"], cfg)
    assert triage.plan(triage_input(ev, cfg, who), RENDERER) == []


@pytest.mark.parametrize(
    ("login", "is_app", "text"),
    [
        ("dependabot[bot]", True, ""),
        ("renovate[bot]", False, ""),  # the `[bot]` suffix alone is enough
        ("ci-robot", False, "bots:\n  logins: [ci-robot]\n"),  # a machine user by config
    ],
)
def test_bots_are_never_triaged(login: str, is_app: bool, text: str) -> None:
    payload = changed(example("issues", "opened"), issue__user=user(login, bot=is_app))
    ev = event("issues", payload)
    cfg = config(text)
    who = classified(ev.payload["issue"]["user"], cfg)
    assert who.author_class == "bot"
    assert triage.plan(triage_input(ev, cfg, who), RENDERER) == []


def test_a_partner_gets_the_partner_label_instead_of_external() -> None:
    cfg = config("partners:\n  - name: Lyon\n    logins: [Codertocat]\n")
    ev = event("issues", example("issues", "opened"))
    who = classified((ev.item or {})["user"], cfg)
    assert who.author_class == "partner"
    actions = triage.plan(triage_input(ev, cfg, who), RENDERER)
    assert labels_added(actions)[0] == "partner: Lyon"
    assert "external" not in labels_added(actions)
    assert "Lyon" in comments(actions)[0].body  # the welcome thanks the partner


def test_an_internal_partner_is_team() -> None:
    cfg = config("partners:\n  - name: Atos\n    logins: [Codertocat]\n    internal: true\n")
    ev = event("issues", example("issues", "opened"))
    who = classified((ev.item or {})["user"], cfg)
    assert triage.plan(triage_input(ev, cfg, who), RENDERER) == []


# -- welcome and first-timers ---------------------------------------------------------------------


def test_a_returning_author_is_neither_first_time_nor_welcomed() -> None:
    actions = plan_for("issues", first_time=False)
    assert labels_added(actions) == ("external", "needs-triage", "awaiting-maintainer")
    assert comments(actions) == []


@pytest.mark.parametrize(
    "text", ["welcome:\n  enabled: false\n", "welcome:\n  issues: false\n"], ids=["off", "issues"]
)
def test_welcome_turned_off(text: str) -> None:
    actions = plan_for("issues", text=text)
    assert comments(actions) == []
    assert "first-time-contributor" in labels_added(actions)  # still labelled


def test_custom_label_names_are_used() -> None:
    text = "labels:\n  external: externe\n  needs_triage: à trier\n  first_time: nouveau\n"
    assert labels_added(plan_for("issues", text=text))[:3] == ("externe", "nouveau", "à trier")


def test_keyword_areas_label_issues() -> None:
    text = "areas:\n  keywords:\n    - label: docs\n      words: {en: [readme]}\n"
    assert "docs" in labels_added(plan_for("issues", text=text))  # the title names the README
    other = "areas:\n  keywords:\n    - label: maps\n      words: {en: [map]}\n"
    assert "maps" not in labels_added(plan_for("issues", text=other))


# -- asking for what is missing -------------------------------------------------------------------


def test_an_empty_issue_is_asked_for_more_and_waits_for_its_author() -> None:
    actions = plan_for("issues", "opened.with-empty-body")
    assert labels_added(actions)[-1] == "awaiting-author"
    assert "awaiting-maintainer" not in labels_added(actions)
    (folded,) = comments(actions)  # the welcome and the request, in one comment
    assert folded.marker == "<!-- veilleur:request-info:Codertocat/Hello-World#1 -->"
    assert "<!-- veilleur:welcome:Codertocat/Hello-World#1 -->" in folded.body


def test_required_sections_are_asked_for() -> None:
    text = "request_info:\n  required_sections: [Steps to reproduce]\n"
    actions = plan_for("issues", text=text)  # the real body has no such heading
    (ask,) = [c for c in comments(actions) if "request-info" in c.marker]
    assert "Steps to reproduce" in ask.body
    assert labels_added(actions)[-1] == "awaiting-author"


def test_request_info_turned_off_lets_an_empty_issue_wait_for_a_maintainer() -> None:
    actions = plan_for("issues", "opened.with-empty-body", text="request_info: {enabled: false}\n")
    assert labels_added(actions)[-1] == "awaiting-maintainer"
    assert [c for c in comments(actions) if "request-info" in c.marker] == []


def test_a_pull_request_without_tests_gets_the_checklist() -> None:
    actions = plan_for("pull_request", files=("README.md",))
    assert labels_added(actions)[-1] == "awaiting-author"
    (checklist,) = [c for c in comments(actions) if "pr-checklist" in c.marker]
    assert checklist.marker == "<!-- veilleur:pr-checklist:Codertocat/Hello-World#2 -->"
    assert checklist.once == "welcome:codertocat:codertocat"  # folded with the welcome
    assert checklist.otherwise is not None and "welcome" not in checklist.otherwise


def test_a_pull_request_with_tests_waits_for_a_maintainer() -> None:
    actions = plan_for("pull_request", files=("README.md", "tests/test_readme.py"))
    assert labels_added(actions)[-1] == "awaiting-maintainer"
    assert [c for c in comments(actions) if "pr-checklist" in c.marker] == []


def test_dco_wants_every_commit_signed_off() -> None:
    text = "pr_checklist:\n  tests: false\n  dco: true\n"
    signed = ("Fix typo\n\nSigned-off-by: Codertocat <octocat@github.com>",)
    assert labels_added(plan_for("pull_request", text=text, commits=signed))[-1] == (
        "awaiting-maintainer"
    )
    unsigned = (*signed, "Another fix")
    assert labels_added(plan_for("pull_request", text=text, commits=unsigned))[-1] == (
        "awaiting-author"
    )


def test_path_areas_label_pull_requests() -> None:
    text = "areas:\n  paths:\n    - {glob: 'docs/**', label: documentation}\n"
    assert "documentation" in labels_added(plan_for("pull_request", text=text, files=("docs/a",)))
    assert "documentation" not in labels_added(
        plan_for("pull_request", text=text, files=("src/a.py", "tests/test_a.py"))
    )


# -- language and dry-run -------------------------------------------------------------------------


def test_the_welcome_speaks_the_issue_language() -> None:
    body = (
        "Bonjour, le fichier README contient une faute d'orthographe : le mot commit est écrit "
        "avec deux t. Pourriez-vous le corriger ? Merci beaucoup pour votre travail."
    )
    payload = changed(
        example("issues", "opened"), issue__title="Faute dans le fichier README", issue__body=body
    )
    ev = event("issues", payload)
    cfg = config()
    raw = ev.payload["issue"]
    lang = detect_item_language(raw["title"], raw["body"], tuple(cfg.languages), cfg.language)
    assert lang == "fr"
    actions = triage.plan(triage_input(ev, cfg, classified(raw["user"], cfg), lang=lang), RENDERER)
    (welcome,) = comments(actions)
    assert "Bonjour Codertocat" in welcome.body and "bienvenue sur" in welcome.body
    english = plan_for("issues")
    assert "Hello Codertocat" in comments(english)[0].body


def test_dry_run_plans_exactly_what_would_be_done() -> None:
    """Dry-run is applied when the plan is carried out (`ctx.apply`), so the plan recorded in
    dry-run is the plan that a live run would carry out."""
    assert plan_for("issues", text="dry_run: true\n") == plan_for("issues")
    assert plan_for("pull_request", text="dry_run: true\n") == plan_for("pull_request")
