"""What an issue left untouched from its template is not information.

An issue opened from GitHub's default bug template with its placeholder text untouched
("A clear and concise description of what the bug is."), or from an issue form whose fields
were skipped (GitHub writes `_No response_`), looks long but says nothing. The repository's
own templates (`.github/ISSUE_TEMPLATE/*.md`, and `*.yml` forms) are the reference of what
"untouched" means; GitHub's default bug template is always known. Comparison is line by
line against a set, so it stays linear in the size of the body, whatever a stranger writes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

TEMPLATE_DIR = ".github/ISSUE_TEMPLATE"
NO_RESPONSE = "_No response_"  # what GitHub writes for a skipped issue-form field
MAX_TEMPLATES = 20
MAX_TEMPLATE_CHARS = 50_000

# GitHub's default "Bug report" template, as offered when a repository adds one.
GITHUB_DEFAULT_BUG_REPORT = """\
---
name: Bug report
about: Create a report to help us improve
title: ''
labels: ''
assignees: ''

---

**Describe the bug**
A clear and concise description of what the bug is.

**To Reproduce**
Steps to reproduce the behavior:
1. Go to '...'
2. Click on '....'
3. Scroll down to '....'
4. See error

**Expected behavior**
A clear and concise description of what you expected to happen.

**Screenshots**
If applicable, add screenshots to help explain your problem.

**Desktop (please complete the following information):**
 - OS: [e.g. iOS]
 - Browser [e.g. chrome, safari]
 - Version [e.g. 22]

**Smartphone (please complete the following information):**
 - Device: [e.g. iPhone6]
 - OS: [e.g. iOS8.1]
 - Browser [e.g. stock browser, safari]
 - Version [e.g. 22]

**Additional context**
Add any other context about the problem here.
"""

_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*(?:\n|\Z)", re.S)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")


def _norm(line: str) -> str:
    return " ".join(line.split()).lower()


@dataclass(frozen=True)
class Scaffolding:
    """Normalised lines that come from templates: a body line equal to one adds nothing."""

    lines: frozenset[str]

    @classmethod
    def of(cls, templates: Iterable[str]) -> Scaffolding:
        lines: set[str] = {_norm(NO_RESPONSE)}
        for text in (GITHUB_DEFAULT_BUG_REPORT, *templates):
            lines |= markdown_lines(text)
        lines.discard("")
        return cls(frozenset(lines))

    def strip(self, body: str) -> str:
        """The body without lines left as the template wrote them (headings are kept, so the
        required-sections check still sees them, now empty)."""
        kept = [
            line
            for line in body.splitlines()
            if _HEADING.match(line) or _norm(line) not in self.lines
        ]
        return "\n".join(kept)


def markdown_lines(text: str) -> set[str]:
    """Lines of a Markdown template (without its front matter), or of an issue form's
    prefilled values."""
    text = text[:MAX_TEMPLATE_CHARS]
    if text.lstrip().startswith(("name:", "body:")) or "\nbody:" in text:
        return form_lines(text)
    text = _FRONT_MATTER.sub("", text, count=1)
    return {_norm(line) for line in text.splitlines() if not _HEADING.match(line)}


def form_lines(text: str) -> set[str]:
    """An issue form (YAML): its fields' prefilled `value`s are placeholders too."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data: Any = YAML(typ="safe").load(text)
    except YAMLError:
        log.info("an issue form could not be read; only `_No response_` is known")
        return set()
    out: set[str] = set()
    body = data.get("body") if isinstance(data, dict) else None
    for element in body if isinstance(body, list) else []:
        attrs = element.get("attributes") if isinstance(element, dict) else None
        value = attrs.get("value") if isinstance(attrs, dict) else None
        if isinstance(value, str) and element.get("type") in ("textarea", "input"):
            out |= {_norm(line) for line in value.splitlines()}
    return out


async def repository_templates(api: Any, repo: str) -> list[str]:
    """Texts of the repository's issue templates (Markdown and forms), at most 20."""
    entries = await api.list_dir(repo, TEMPLATE_DIR)
    names = sorted(
        e["path"]
        for e in entries
        if isinstance(e, dict)
        and e.get("type") == "file"
        and str(e.get("name", "")).lower().endswith((".md", ".yml", ".yaml"))
        and str(e.get("name", "")).lower() != "config.yml"
    )
    texts: list[str] = []
    for path in names[:MAX_TEMPLATES]:
        text = await api.get_file(repo, path)
        if text:
            texts.append(text)
    return texts
