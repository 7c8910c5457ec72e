"""`handlers.issue_templates.Scaffolding`: what of a real issue's body is template text.

The effect on triage (untouched templates and skipped form fields asking for more) is in
`test_issue_templates.py`; here, the stripping itself, from the real `issues.opened` body.
"""

from __future__ import annotations

from handlers.issue_templates import (
    GITHUB_DEFAULT_BUG_REPORT,
    MAX_TEMPLATE_CHARS,
    NO_RESPONSE,
    Scaffolding,
    markdown_lines,
)
from handlers.triage import missing_sections
from tests.plan_support import example

TEMPLATE = """\
---
name: Bug
about: Something is wrong
labels: bug
---
## What happened
Describe what you saw.

## Version
"""
FORM_WITH_HEADINGS = """\
name: Bug
body:
  - type: textarea
    attributes:
      label: Details
      value: "## Version\\nWhich version?"
"""


def test_a_written_body_is_kept_whole() -> None:
    body = example("issues", "opened")["issue"]["body"]
    assert Scaffolding.of([TEMPLATE]).strip(body) == body


def test_template_lines_go_and_headings_stay() -> None:
    body = "## What happened\nDescribe what you saw.\n\n## Version\n" + NO_RESPONSE + "\n"
    stripped = Scaffolding.of([TEMPLATE]).strip(body)
    assert stripped.splitlines() == ["## What happened", "", "## Version"]
    # The headings are still there, empty: the required-sections check names them.
    assert missing_sections(stripped, ["What happened", "Version"]) == ["What happened", "Version"]
    # A form's prefilled value may hold headings: a heading in the body is still kept.
    form = Scaffolding.of([FORM_WITH_HEADINGS])
    assert "## version" in form.lines
    answered = "## Version\nWhich version?\n2.4.1"
    assert form.strip(answered) == "## Version\n2.4.1"


def test_comparison_ignores_case_and_spacing() -> None:
    body = "  describe   WHAT you saw.  \nIt crashed on start."
    assert Scaffolding.of([TEMPLATE]).strip(body) == "It crashed on start."


def test_githubs_default_bug_report_is_always_known() -> None:
    body = example("issues", "opened")["issue"]["body"]
    placeholder = "A clear and concise description of what the bug is."
    assert Scaffolding.of([]).strip(f"{placeholder}\n{body}") == body


def test_front_matter_is_not_template_text() -> None:
    lines = markdown_lines(TEMPLATE)
    assert "name: bug" not in lines and "labels: bug" not in lines
    assert "describe what you saw." in lines and "## version" not in lines  # headings kept


def test_an_unreadable_form_knows_nothing_but_the_skipped_field_marker() -> None:
    assert markdown_lines("name: Broken\nbody: [\n") == set()
    assert Scaffolding.of(["name: Broken\nbody: [\n"]).strip(NO_RESPONSE) == ""


def test_a_huge_template_is_read_only_up_to_its_limit() -> None:
    tail = "this line is past the limit"
    lines = markdown_lines("a\n" * (MAX_TEMPLATE_CHARS // 2) + tail)
    assert tail not in lines and "a" in lines
    assert GITHUB_DEFAULT_BUG_REPORT.startswith("---\n")
