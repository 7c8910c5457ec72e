"""CODEOWNERS with GitLab's semantics (pure; the client fetches the text).

GitLab's rules, as implemented here (doc/user/project/codeowners/reference.md):
- the file is the first of `CODEOWNERS`, `docs/CODEOWNERS`, `.gitlab/CODEOWNERS`;
- `[Section]` headers split the file; entries before the first header form an unnamed
  section; `^[Section]` is optional, `[Section][2]` asks for two approvals, owners after the
  header are the section's default owners for entries that list none; sections of the same
  name (case-insensitive) are one;
- each section is matched on its own (its last matching entry wins) and a path's owners are
  those of every section; `!pattern` excludes a path within its section;
- a pattern without a leading `/` matches at any depth; owners are `@user`, `@group/sub`,
  e-mail addresses, or roles `@@developer`, `@@maintainer`, `@@owner`.
Reminders ask the owners of required sections first, then those of optional ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.sla.codeowners import compile_pattern

CODEOWNERS_PATHS: tuple[str, ...] = ("CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")

_HEADER = re.compile(r"(\^)?\[([^\]\n]{1,200})\](?:\[(\d{1,3})\])?((?:\s+\S+){0,50})\s*")
_OWNER = re.compile(r"@@?[A-Za-z0-9_.][A-Za-z0-9_.\-/]{0,254}|[^@\s]+@[^@\s]+")
MAX_LINE = 4096


@dataclass
class Entry:
    pattern: str
    owners: tuple[str, ...]
    exclude: bool
    regex: re.Pattern[str]


@dataclass
class Section:
    name: str
    optional: bool = False
    approvals: int = 1
    default_owners: tuple[str, ...] = ()
    entries: list[Entry] = field(default_factory=list)

    def owners_of(self, path: str) -> tuple[str, ...]:
        for entry in reversed(self.entries):
            if entry.regex.fullmatch(path.lstrip("/")):
                return () if entry.exclude else entry.owners or self.default_owners
        return ()


@dataclass
class GitLabCodeOwners:
    sections: list[Section]
    errors: list[str]

    def owners_of(self, path: str) -> tuple[str, ...]:
        return _dedupe(o for s in self._ordered() for o in s.owners_of(path))

    def owners_for(self, paths: Iterable[str]) -> tuple[str, ...]:
        wanted = list(paths)
        return _dedupe(o for s in self._ordered() for p in wanted for o in s.owners_of(p))

    def _ordered(self) -> list[Section]:
        return sorted(self.sections, key=lambda s: s.optional)  # required sections first


def _dedupe(owners: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for owner in owners:
        seen.setdefault(owner.lower(), owner)
    return tuple(seen.values())


def _owners(text: str, number: int, errors: list[str]) -> tuple[str, ...]:
    out = []
    for token in text.split():
        if _OWNER.fullmatch(token):
            out.append(token)
        else:
            errors.append(f"line {number}: {token[:60]!r} is not a user, group, role or e-mail")
    return tuple(out)


def parse_gitlab_codeowners(text: str) -> GitLabCodeOwners:
    """Bad lines are reported and skipped, never fatal; linear in the size of the text."""
    unnamed = Section("")
    sections: dict[str, Section] = {"": unnamed}
    current = unnamed
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if len(line) > MAX_LINE:
            errors.append(f"line {number}: longer than {MAX_LINE} characters")
            continue
        header = _HEADER.fullmatch(line) if line.startswith(("[", "^[")) else None
        if header is not None:
            name = header.group(2).strip()
            current = sections.setdefault(name.lower(), Section(name, optional=True))
            current.optional = current.optional and bool(header.group(1))  # required wins
            if header.group(3):
                current.approvals = int(header.group(3))
            owners = _owners(header.group(4) or "", number, errors)
            current.default_owners = owners or current.default_owners
            continue
        pattern, _, rest = line.partition(" ")
        rest = rest.split(" #", 1)[0]  # GitLab's own example writes comments after a rule
        exclude = pattern.startswith("!")
        body = pattern[1:] if exclude else pattern
        if not body or "***" in body:
            errors.append(f"line {number}: {pattern[:60]!r} is not a valid pattern")
            continue
        anchored = body if body.startswith("/") else "/**/" + body
        entry = Entry(pattern, _owners(rest, number, errors), exclude, compile_pattern(anchored))
        current.entries.append(entry)
    return GitLabCodeOwners([s for s in sections.values() if s.entries], errors)
