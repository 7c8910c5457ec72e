"""Message templates: every one renders in every language, fallback, overrides, and safety."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config.errors import ConfigError
from bot.messages.templating import (
    LANGUAGES,
    SUFFIX,
    ZWJ,
    Renderer,
    SafeMarkdown,
    T,
    code,
    escape_markdown,
    mention,
    plain_text,
)
from bot.resources import templates_dir

HOSTILE = "Map *broken* | {{ 7*7 }} {% if true %}x{% endif %} <b>@acme/core</b> [x](http://e.vil)"
ITEM = {
    "repo": "acme/my_app",
    "number": 12,
    "title": HOSTILE,
    "url": "https://github.com/acme/my_app/issues/12",
    "author": "alice",
    "author_class": "external",
}
ROW = dict(ITEM, business_days=4, responsible=["bob", "acme/core"], overdue=True)
ERRORS = [
    ConfigError(
        ".github/veilleur.yml", 4, 3, "labels.extrnal", 'unknown key; did you mean "external"?'
    ),
    ConfigError("acme/.github/.github/veilleur.yml", None, None, "", "YAML syntax error"),
]

CHECKS = ("tests", "changelog", "dco", "linked_issue")
SAMPLES: dict[str, dict[str, Any]] = {
    T.WELCOME_ISSUE: dict(
        author="alice", repo="acme/app", first_time=True, response_days=3, partner="Supplier & Co"
    ),
    T.WELCOME_PULL: dict(
        author="alice", repo="acme/app", first_time=False, response_days=1, partner=None
    ),
    T.REQUEST_INFO_ISSUE: dict(
        author="alice", missing_sections=["Steps to reproduce"], too_short=True, min_body_chars=40
    ),
    T.PR_CHECKLIST: dict(
        author="alice",
        checks=[{"key": k, "ok": i % 2 == 0} for i, k in enumerate(CHECKS)],
    ),
    T.COMMAND_HELP: {},
    T.COMMAND_ERROR: dict(
        command="/label bug",
        reason="invalid",
        message="each label needs + or -",
        usage="/label +name",
    ),
    T.CONFIG_ERROR_ISSUE: dict(
        repo="acme/app", errors=ERRORS, last_valid=True, config_file=".github/veilleur.yml"
    ),
    T.REMINDER: dict(
        people=["bob", "acme/core"],
        author="alice",
        business_days=4,
        due_days=3,
        reminder_number=1,
        max_reminders=3,
        kind="first_response",
    ),
    T.WAITING_LIST: dict(
        scope="acme", generated_at="2025-03-03", items=[ROW, dict(ROW, number=13, responsible=[])]
    ),
    T.ESCALATION_ISSUE: dict(
        item=ITEM, business_days=11, reminders_sent=3, responsible=["bob"], ospo_team="@acme/ospo"
    ),
    T.ESCALATION_EMAIL: dict(
        item=ITEM, business_days=11, reminders_sent=1, responsible=[], ospo_team=None
    ),
    T.WHOSE_TURN: dict(
        waiting_on="maintainer", business_days=2, due_in_days=-1, responsible=["bob"]
    ),
    T.STALE_NUDGE: dict(author="alice", close_after_days=10),
    T.STALE_CLOSE: dict(author="alice"),
    T.DIGEST_EMAIL: dict(
        scope="acme",
        period_start="2025-02-24",
        period_end="2025-03-02",
        totals={"new": 5, "answered": 3, "overdue": 1, "waiting": 2},
        items=[ROW],
        members=["ville-de-lyon"],
        members_left_out=2,
    ),
    T.DAILY_REMINDER: dict(person="bob", day="2025-03-03", items=[ROW]),
    T.DAILY_NOTE: dict(author="alice", people=["bob"]),
    T.AWAY_REPLY: dict(until=date(2025, 3, 14)),
}
WITH_TITLE = {
    T.CONFIG_ERROR_ISSUE,
    T.WAITING_LIST,
    T.ESCALATION_ISSUE,
    T.ESCALATION_EMAIL,
    T.DIGEST_EMAIL,
}


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(templates_dir())


def test_samples_cover_every_template() -> None:
    assert set(SAMPLES) == set(T.ALL)
    for lang in LANGUAGES:
        present = {p.name.removesuffix(SUFFIX) for p in (templates_dir() / lang).glob(f"*{SUFFIX}")}
        assert present == set(T.ALL), lang


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", T.ALL)
def test_every_template_renders_in_every_language(renderer: Renderer, name: str, lang: str) -> None:
    result = renderer.render(name, lang, **SAMPLES[name])
    assert (result.template_name, result.lang, result.source) == (name, lang, "packaged")
    assert result.text.strip() and "\n\n\n" not in result.text
    assert "49" not in result.text  # `{{ 7*7 }}` in a title stays literal
    assert (result.title is not None) == (name in WITH_TITLE)
    if result.title is not None:
        assert "\n" not in result.title and "\\" not in result.title


def test_welcome_lists_community_links_when_given(renderer: Renderer) -> None:
    data = dict(SAMPLES[T.WELCOME_PULL], contributing_url="https://x.example/CONTRIBUTING.md")
    text = renderer.render(T.WELCOME_PULL, "nl", **data, code_of_conduct_url=None).text
    assert "(https://x.example/CONTRIBUTING.md)" in text and "Gedragscode" not in text
    data["contributing_url"] = "javascript:alert(1)"
    text = renderer.render(T.WELCOME_PULL, "en", **data).text
    assert "javascript" not in text and "- How to contribute" in text


def test_config_error_issue(renderer: Renderer) -> None:
    result = renderer.render(T.CONFIG_ERROR_ISSUE, "en", **SAMPLES[T.CONFIG_ERROR_ISSUE])
    assert result.title == "Veilleur configuration error"
    assert "`.github/veilleur.yml:4`" in result.text and "`labels.extrnal`" in result.text
    assert "`acme/.github/.github/veilleur.yml`" in result.text


def test_waiting_list_table_and_empty_text(renderer: Renderer) -> None:
    data = SAMPLES[T.WAITING_LIST]
    text = renderer.render(T.WAITING_LIST, "en", **data).text
    rows = [line for line in text.splitlines() if line.startswith("| acme/")]
    assert len(rows) == 2
    assert all(len(re.findall(r"(?<!\\)\|", row)) == 7 for row in rows)  # pipes in titles escaped
    assert "acme/my_app#12" in rows[0] and "| 4 |" in rows[0]
    assert "@bob" not in text  # the list itself never pings anyone
    empty = renderer.render(T.WAITING_LIST, "en", **dict(data, items=[])).text
    assert "Nothing is waiting" in empty and "|" not in empty
    assert (
        "Aucune contribution" in renderer.render(T.WAITING_LIST, "fr", **dict(data, items=[])).text
    )


def test_reminder_mentions_only_the_people_meant(renderer: Renderer) -> None:
    text = renderer.render(T.REMINDER, "en", **SAMPLES[T.REMINDER]).text
    assert text.startswith("@bob, @acme/core:")
    assert "@alice" not in text


def test_email_plain_text_has_no_markdown_escapes(renderer: Renderer) -> None:
    result = renderer.render(T.ESCALATION_EMAIL, "en", **SAMPLES[T.ESCALATION_EMAIL])
    assert result.title == "[Veilleur] acme/my_app#12 waiting 11 working days"
    assert "https://github.com/acme/my_app/issues/12" in result.plain
    assert "Map *broken* | {{ 7*7 }}" in result.plain


# -- fallback and overrides ---------------------------------------------------------------------


@pytest.fixture
def small_dir(tmp_path: Path) -> Path:
    (tmp_path / "en").mkdir()
    (tmp_path / "fr").mkdir()
    (tmp_path / "en" / f"{T.STALE_CLOSE}{SUFFIX}").write_text("Closing, {{ author }}.")
    (tmp_path / "en" / f"{T.STALE_NUDGE}{SUFFIX}").write_text("Nudge {{ author }}.")
    (tmp_path / "fr" / f"{T.STALE_NUDGE}{SUFFIX}").write_text("Relance {{ author }}.")
    return tmp_path


def test_fallback_to_english(small_dir: Path) -> None:
    renderer = Renderer(small_dir)
    result = renderer.render(T.STALE_CLOSE, "fr", author="alice")
    assert (result.lang, result.text) == ("en", "Closing, alice.\n")
    assert renderer.render(T.STALE_NUDGE, "es", author="a").lang == "en"
    assert renderer.render(T.STALE_NUDGE, "fr", author="a").lang == "fr"
    with pytest.raises(Exception, match="nope"):
        renderer.render("nope", "fr")


def test_override_lookup_order(small_dir: Path) -> None:
    over = {
        f"fr/{T.STALE_CLOSE}{SUFFIX}": "Fermeture (org), {{ author }}.",
        f"en/{T.STALE_NUDGE}{SUFFIX}": "Org nudge {{ author }}.",
    }
    renderer = Renderer(small_dir, over)
    fr_close = renderer.render(T.STALE_CLOSE, "fr", author="a")
    assert (fr_close.text, fr_close.source, fr_close.lang) == (
        "Fermeture (org), a.\n",
        "override",
        "fr",
    )
    assert (
        renderer.render(T.STALE_NUDGE, "fr", author="a").text == "Relance a.\n"
    )  # packaged fr first
    assert (
        renderer.render(T.STALE_NUDGE, "de", author="a").text == "Org nudge a.\n"
    )  # then override en
    assert renderer.render(T.STALE_NUDGE, "en", author="a").source == "override"


def test_broken_or_hostile_override_falls_back_to_packaged(small_dir: Path) -> None:
    over = {
        f"en/{T.STALE_CLOSE}{SUFFIX}": "{% if %}",
        f"en/{T.STALE_NUDGE}{SUFFIX}": "{{ author.__class__.__mro__[1].__subclasses__() }}",
        "../../etc/passwd": "x",
    }
    renderer = Renderer(small_dir, over)
    assert "../../etc/passwd" not in renderer.overrides
    assert renderer.render(T.STALE_CLOSE, "en", author="a").source == "packaged"
    nudge = renderer.render(T.STALE_NUDGE, "en", author="a")
    assert (nudge.source, nudge.text) == ("packaged", "Nudge a.\n")


# -- safety ---------------------------------------------------------------------------------------


def test_template_syntax_in_data_is_rendered_literally(renderer: Renderer) -> None:
    item = dict(ITEM, title="{{ 7*7 }} {% for x in range(3) %}{{ x }}{% endfor %}")
    result = renderer.render(
        T.ESCALATION_ISSUE, "en", **dict(SAMPLES[T.ESCALATION_ISSUE], item=item)
    )
    assert "49" not in result.text and "012" not in result.text
    assert "{{ 7\\*7 }}" in result.text and "{% for x in range(3) %}" in result.text


def test_mentions_in_untrusted_data_are_not_live(renderer: Renderer) -> None:
    item = dict(ITEM, title="ping @acme/everyone and @bob", author="@mallory")
    result = renderer.render(
        T.ESCALATION_ISSUE, "en", **dict(SAMPLES[T.ESCALATION_ISSUE], item=item)
    )
    live = set(re.findall(r"@[A-Za-z0-9][\w/-]*", result.text))
    assert live == {"@acme/ospo"}  # only the OSPO team the caller passed through `mention`
    assert f"@{ZWJ}acme/everyone" in result.text
    assert "@acme/everyone" not in (result.title or "")


def test_html_and_markdown_in_data_are_neutralised(renderer: Renderer) -> None:
    text = renderer.render(
        T.WELCOME_ISSUE, "en", **dict(SAMPLES[T.WELCOME_ISSUE], partner=HOSTILE)
    ).text
    assert "<b>" not in text and "&lt;b&gt;" in text
    assert "\\[x\\](http:\u200d//e.vil)" in text and "\\*broken\\*" in text


def test_helpers() -> None:
    assert mention(["alice", "@acme/core"]) == "@alice, @acme/core"
    assert mention("alice bob") == "alice bob"
    assert mention("x](http://evil)") == "x\\](http:\u200d//evil)"
    assert isinstance(mention("a"), SafeMarkdown)
    assert code("a`b") == "``a`b``" and code("`") == "`` ` ``"
    assert escape_markdown("a\nb\r\nc") == "a b c"


SAFE_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=ZWJ + "\u2028\u2029")
)


@given(SAFE_TEXT)
def test_escaped_text_is_inert_and_reversible(text: str) -> None:
    out = escape_markdown(text)
    assert not re.search(r"(?<!\\)[*_`\[\]|<>]", out.replace("\\\\", ""))
    assert not re.search(r"@[A-Za-z0-9]", out)
    # mentions and bare links stay broken (a zero-width joiner, which `text` never holds)
    assert plain_text(out).replace(ZWJ, "") == text
