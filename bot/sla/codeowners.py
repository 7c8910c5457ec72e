"""CODEOWNERS parsing and matching with GitHub's semantics (pure; the caller fetches the text).

Why: when nobody is assigned or requested, the people GitHub itself would ask to review the
touched files are the next best persons to remind.

GitHub's rules, as implemented here:
- one rule per line: a gitignore-style pattern, then owners (`@user`, `@org/team`, e-mail);
  `#` starts a comment (whole line, or after the pattern); blank lines are ignored;
- the **last** matching rule wins; a matching rule with no owners makes the path unowned;
- `*` matches within one path segment, `?` one character, `**` any number of segments;
  a leading `/` or a `/` in the middle anchors the pattern at the repository root, otherwise
  it matches at any depth; a trailing `/` matches everything inside a directory;
- a pattern matches a file and everything under a directory of that name, except a final
  lone `*` segment (`docs/*`), which matches direct children only;
- `!` negation and `[ ]` ranges are not supported by GitHub: `!` lines are reported and
  skipped, brackets are matched literally.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Where GitHub looks, in its order of precedence (the first file found is used).
CODEOWNERS_PATHS: tuple[str, ...] = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")

_OWNER = re.compile(r"^@[A-Za-z0-9](?:[A-Za-z0-9-]*)(?:/[A-Za-z0-9._-]+)?$|^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True)
class Rule:
    pattern: str
    owners: tuple[str, ...]
    line: int
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch(_normalize(path)) is not None


@dataclass(frozen=True)
class CodeOwners:
    """Parsed rules (file order) and the problems found (`line N: reason`)."""

    rules: tuple[Rule, ...] = ()
    errors: tuple[str, ...] = ()

    def rule_for(self, path: str) -> Rule | None:
        """The last rule matching `path`, if any."""
        normalized = _normalize(path)
        for rule in reversed(self.rules):
            if rule.regex.fullmatch(normalized):
                return rule
        return None

    def owners_of(self, path: str) -> tuple[str, ...]:
        rule = self.rule_for(path)
        return rule.owners if rule else ()

    def owners_for(self, paths: Iterable[str]) -> tuple[str, ...]:
        """Owners of any of `paths`, deduplicated (case-insensitively) in order of appearance."""
        seen: set[str] = set()
        owners: list[str] = []
        for path in paths:
            for owner in self.owners_of(path):
                if owner.lower() not in seen:
                    seen.add(owner.lower())
                    owners.append(owner)
        return tuple(owners)


def _normalize(path: str) -> str:
    path = path.strip()
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def _split_pattern(line: str) -> tuple[str, str]:
    """Pattern (up to the first unescaped whitespace) and the rest of the line."""
    i = 0
    while i < len(line) and not line[i].isspace():
        i += 2 if line[i] == "\\" else 1
    return line[:i], line[i:]


def _glob_segment(seg: str) -> str:
    out: list[str] = []
    chars = iter(seg)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Regex (for `fullmatch` on a repo-relative path) equivalent to one CODEOWNERS pattern."""
    anchored = pattern.startswith("/")
    body = pattern[1:] if anchored else pattern
    if not body or body == "/":
        return re.compile(r"(?!)")  # "/" alone matches nothing
    directory = body.endswith("/")
    segs = body.rstrip("/").split("/") if directory else body.split("/")
    if not anchored and len(segs) == 1 and segs[0] != "**":
        segs.insert(0, "**")  # no slash: matches at any depth
    if directory and segs[-1] != "**":
        segs.append("**")  # trailing slash: everything inside
    last = len(segs) - 1
    parts: list[str] = []
    need_sep = False
    for i, seg in enumerate(segs):
        if seg == "**":
            if i == 0:
                parts.append(".+" if i == last else "(?:.*/)?")
                need_sep = False
            elif i == last:
                parts.append("/.*")
            else:
                parts.append("(?:/.*)?")
                need_sep = True
            continue
        if need_sep:
            parts.append("/")
        if seg == "*":
            parts.append("[^/]+")
        else:
            parts.append(_glob_segment(seg))
            if i == last:
                parts.append("(?:/.*)?")  # a file, or everything under a directory of that name
        need_sep = True
    return re.compile("".join(parts))


def parse_codeowners(text: str) -> CodeOwners:
    """Parse CODEOWNERS text; bad lines are skipped and reported, never fatal."""
    rules: list[Rule] = []
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, rest = _split_pattern(line)
        if pattern.startswith("!"):
            errors.append(f"line {number}: negation ({pattern}) is not supported by GitHub")
            continue
        if "***" in pattern:
            errors.append(f"line {number}: '***' is not a valid pattern ({pattern})")
            continue
        owners: list[str] = []
        for token in rest.split():
            if token.startswith("#"):
                break
            if _OWNER.match(token):
                owners.append(token)
            else:
                errors.append(f"line {number}: {token!r} is not a user, team or e-mail")
        rules.append(Rule(pattern, tuple(owners), number, compile_pattern(pattern)))
    return CodeOwners(tuple(rules), tuple(errors))


def owners_for(text: str, paths: Iterable[str]) -> tuple[str, ...]:
    """Shortcut: owners of `paths` under the CODEOWNERS `text`."""
    return parse_codeowners(text).owners_for(paths)


# --- whom to remind ---------------------------------------------------------------------------


def normalize_handle(who: str) -> str:
    """`@alice` / `alice` -> `alice`; `@org/team` -> `org/team` (rendered with "@" when posted)."""
    return who.strip().lstrip("@")


def mention_handles(people: Iterable[str]) -> tuple[str, ...]:
    """Mentionable handles, deduplicated case-insensitively, in order; e-mails and bots dropped."""
    seen: set[str] = set()
    out: list[str] = []
    for raw in people:
        who = normalize_handle(raw)
        if not who or "@" in who or who.lower().endswith("[bot]") or who.lower() in seen:
            continue
        seen.add(who.lower())
        out.append(who)
    return tuple(out)


def responsible_people(
    assignees: Iterable[str] = (),
    requested_reviewers: Iterable[str] = (),
    codeowners_owners: Iterable[str] = (),
    maintainers_users: Iterable[str] = (),
    maintainers_teams: Iterable[str] = (),
) -> tuple[str, ...]:
    """Whom to remind: the first non-empty group, most specific first (handles without "@")."""
    groups = (assignees, requested_reviewers, codeowners_owners)
    for group in (*groups, maintainers_users, maintainers_teams):
        if people := mention_handles(group):
            return people
    return ()
