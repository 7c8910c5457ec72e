"""Hypothesis over the parsers of outside text: comments, commands, bodies and configuration.

Random and adversarial Markdown/YAML: no parser raises, hidden text (comments, code, `<pre>`)
never becomes a command, and a config is either parsed or errors with its file. Examples are
bounded so the suite stays fast.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config.loader import parse_config_text
from bot.messages.language import detect_language
from bot.record.markdown_scan import own_words, prose_lines, sections
from handlers.commands import parse_commands
from handlers.triage import links_an_issue, meaningful_text, missing_sections, signed_off

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PIECES = [
    "`", "``", "```", "~~~", "\n", " ", "    ", "\t", "> ", "# ", "###### ", "#", "<!--", "-->",
    "<pre>", "</pre>", "<PRE ", ">", "- [ ] ", "* [x] ", "/label +bug", "/help", "/lable",
    "/snooze 3d", "Signed-off-by: A <a@b.c>", "#12", "a/b#3", "/issues/4", "https://x.y",
    "@team", "é", "\u202e", "\r\n", "ij", "zz", "?",
]  # fmt: skip
markdown = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=40).map(
    "".join
)


@FUZZ
@given(markdown, st.one_of(st.none(), markdown))
def test_comment_and_command_parsers_never_fail(body: str, previous: str | None) -> None:
    lines = prose_lines(body)
    assert own_words(body) == "\n".join(lines)
    for cmd in parse_commands(body, previous):
        assert any(line.lstrip().startswith("/" + cmd.name) for line in map(str.lower, lines))
    detect_language(body)


@FUZZ
@given(markdown, markdown, markdown)
def test_hidden_text_never_holds_a_command(before: str, hidden: str, after: str) -> None:
    secret = "\n/assign @mallory\n"
    for wrapped in (
        f"<!-- {hidden.replace('-', '')}{secret}-->",  # no `-->` (nor `<!-->`) closes it early
        f"<pre>{hidden.replace('<', '')}{secret}</pre>",  # no `</pre` either
    ):
        body = f"{before}\n{wrapped}\n{after}"
        assert [c for c in parse_commands(body) if c.args == ("@mallory",)] == [], body


@FUZZ
@given(markdown, st.lists(st.sampled_from(["Steps", "Expected", "Version"]), max_size=3))
def test_body_parsers_never_fail(body: str, required: list[str]) -> None:
    missing = missing_sections(body, required)
    assert set(missing) <= set(required)
    assert "<!--" not in meaningful_text(body + "<!-- x")
    sections(body)
    links_an_issue(body)
    signed_off(body)


yaml_pieces = st.sampled_from(
    [
        "\n", "  ", "- ", ": ", "[", "]", "{", "}", ", ", "&a ", "*a", "<<: *a", "'", '"', "#",
        "? ", "!!str ", "|", ">", "language", "fr", "labels", "welcome", "enabled", "true",
        "areas", "keywords", "x",
    ]
)  # fmt: skip
config_text = st.lists(st.one_of(yaml_pieces, st.text(max_size=5)), max_size=60).map("".join)


@FUZZ
@given(config_text)
def test_config_parser_never_raises(text: str) -> None:
    data, errors = parse_config_text(text, ".github/veilleur.yml")
    assert isinstance(data, dict)
    assert all(e.file == ".github/veilleur.yml" for e in errors)
    assert not (data and errors)
