"""The linear-time Markdown scanner and the parsers built on it (commands, sections, questions,
language, DCO, linked issues): what they read, and that hostile input costs linear work."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.logs import redact
from bot.messages.language import detect_language
from bot.record.markdown_scan import (
    atx_heading,
    prose_lines,
    sections,
    strip_checkbox,
    strip_html_comments,
    strip_inline_code,
    strip_pre_blocks,
)
from bot.record.text import asks_question
from handlers.commands import parse_commands
from handlers.triage import links_an_issue, meaningful_text, missing_sections, signed_off
from tests.linearity import assert_linear


def test_pre_blocks_are_code_like_fences() -> None:
    body = "Look:\n<pre>\n/label +urgent\n</pre>\n<PRE class='x'>/triage accepted</Pre>\n/ready"
    assert [c.name for c in parse_commands(body)] == ["ready"]
    assert strip_pre_blocks("a<pre>b</pre>c") == "a\nc"
    assert strip_pre_blocks("a<prefix>b") == "a<prefix>b"  # another tag
    assert strip_pre_blocks("a<pre>never closed\n/label x") == "a"


def test_comments_fences_quotes_and_inline_code_are_not_prose() -> None:
    body = (
        "<!-- /label hidden -->\n"
        "```\n/label fenced\n```\n"
        "~~~~\n/label tilde\n~~~\n~~~~\n"
        "> /label quoted\n"
        "    /label indented\n"
        "say `/label inline` then ``a ` b`` end\n"
        "/label real"
    )
    assert prose_lines(body) == ["", "say  then  end", "/label real"]
    assert strip_html_comments("a<!-- b -->c<!-- open") == "ac"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("`a`", ""),
        ("``a`b``c", "c"),
        ("`a``", "`a``"),  # no run of the same length closes it
        ("``` `x` ", "```  "),
        ("a`", "a`"),
    ],
)
def test_inline_code(line: str, expected: str) -> None:
    assert strip_inline_code(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("# Title", "Title"),
        ("   ### Steps ###", "Steps"),
        ("####### seven", None),
        ("#nospace", None),
        ("    # indented", None),
        ("## ", None),
        ("# x" + " " * 50 + "#y", "x" + " " * 50 + "#y"),
    ],
)
def test_atx_heading(line: str, expected: str | None) -> None:
    assert atx_heading(line) == expected


def test_sections_ignore_headings_in_code() -> None:
    body = "intro\n# Steps\nclick\n```\n# not a heading\n```\n## Expected\n\n"
    preamble, found = sections(body)
    assert preamble == ["intro"]
    assert [h for h, _ in found] == ["Steps", "Expected"]
    assert missing_sections(body, ["Steps", "Expected", "Version"]) == ["Expected", "Version"]


def test_meaningful_text_drops_scaffolding() -> None:
    body = "<!-- describe -->\n# Steps\n- [ ] done\n* [x] tried\nreal words"
    assert meaningful_text(body) == "done tried real words"
    assert strip_checkbox("  - [X]  item") == "item"
    assert strip_checkbox("- item") == "- item"


def test_signed_off_and_linked_issue() -> None:
    assert signed_off("Fix\n\nSigned-off-by: Ada Lovelace <ada@example.org>")
    assert not signed_off("Signed-off-by: <ada@example.org>")
    assert not signed_off("Signed-off-by: Ada <>")
    assert links_an_issue("Fixes #12.") and links_an_issue("see (paris/lutece#3)")
    assert links_an_issue("https://github.com/a/b/issues/9")
    assert not links_an_issue("no#12 and #x")


def test_log_redaction() -> None:
    text = "a ghp_abcdefghijk b -----BEGIN RSA PRIVATE KEY-----\nxx\n-----END RSA PRIVATE KEY-----"
    assert (
        redact(text + " c eyJhbGciOiJIUzI1NiJ9.eyJzdWIi.sig")
        == "a [redacted] b [redacted] c [redacted]"
    )
    assert redact("x -----BEGIN PRIVATE KEY----- half a key") == "x [redacted]"


def test_questions_outside_code_only() -> None:
    assert asks_question("Which browser?")
    assert not asks_question("```\nwhy?\n```\n<pre>how?</pre>\n> you asked?")


# -- linear time: each parser, adversarial inputs of 16 K, 32 K and 64 K characters ---------------

ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "backticks": lambda n: "`" * n,
    "backtick pairs": lambda n: "`a" * (n // 2),
    "backtick runs of growing length": lambda n: " ".join("`" * k for k in range(1, 400))[:n],
    "heading with spaces": lambda n: "# x" + " " * n + "#y",
    "unclosed comments": lambda n: "<!--" * (n // 4),
    "unclosed pre tags": lambda n: "<pre" * (n // 4) + "<pre>" + "a" * 10,
    "closing pre tags": lambda n: "<pre>" + "</pr" * (n // 4),
    "fences": lambda n: "```\n" * (n // 4),
    "blank lines": lambda n: " \n" * (n // 2),
    "checkbox spaces": lambda n: "-" + " " * n + "[",
    "commands": lambda n: "/label " * (n // 7),
    "slashes": lambda n: "/" + "a" * n + "!",
    "angle brackets": lambda n: "Signed-off-by: " + " <" * (n // 2),
    "issue refs": lambda n: "a/" * (n // 2) + "#",
    "words": lambda n: "a" * n,
    "mail-like": lambda n: "a@" + "." * n + "@",
    "jwt-like": lambda n: "eyJ" * (n // 3),
    "unfinished keys": lambda n: "-----BEGIN PRIVATE KEY-----" * (n // 27),
    "mixed markdown": lambda n: ("# h\n> q `c` <!-- x --> <pre>p</pre>\n```\nk\n```\n" * n)[:n],
}

PARSERS: dict[str, Callable[[str], object]] = {
    "commands": lambda text: parse_commands(text, text[: len(text) // 2]),
    "question": asks_question,
    "sections": lambda text: missing_sections(text, ["Steps", "Expected"]),
    "meaningful text": meaningful_text,
    "language": lambda text: detect_language(text, ("en", "fr", "nl", "de", "it")),
    "signed off": signed_off,
    "linked issue": links_an_issue,
    "log redaction": redact,
}


@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_parsers_take_linear_time_on_hostile_input(parser: str) -> None:
    work = PARSERS[parser]
    for name, make in ADVERSARIAL.items():
        try:
            assert_linear(work, make)
        except AssertionError as exc:
            raise AssertionError(f"{parser} on {name}: {exc}") from None
