"""CODEOWNERS: GitHub's pattern semantics and last-match-wins."""

from __future__ import annotations

import pytest

from bot.sla.codeowners import CODEOWNERS_PATHS, compile_pattern, owners_for, parse_codeowners

# (pattern, path, matches)
CASES = [
    # no slash: any depth, file or directory of that name
    ("docs", "docs", True),
    ("docs", "docs/index.md", True),
    ("docs", "src/docs/a/b.md", True),
    ("docs", "docs.md", False),
    ("docs", "mydocs/a.md", False),
    # leading slash: root only
    ("/docs", "docs/index.md", True),
    ("/docs", "src/docs/index.md", False),
    ("/docs", "docsy", False),
    # trailing slash: directory contents, at any depth unless anchored
    ("apps/", "apps", False),
    ("apps/", "apps/web/main.py", True),
    ("apps/", "src/apps/main.py", True),
    ("/build/logs/", "build/logs/today.log", True),
    ("/build/logs/", "x/build/logs/today.log", False),
    # a middle slash anchors
    ("src/api", "src/api/v1.py", True),
    ("src/api", "lib/src/api/v1.py", False),
    # * stays inside one segment
    ("*.js", "app.js", True),
    ("*.js", "web/static/app.js", True),
    ("*.js", "app.jsx", False),
    ("*", "anything/at/all.txt", True),
    ("/*", "README.md", True),
    ("/*", "src/main.py", False),
    ("docs/*", "docs/getting-started.md", True),
    ("docs/*", "docs/build-app/troubleshooting.md", False),
    ("docs/*.md", "docs/a.md", True),
    ("docs/*.md", "docs/sub/a.md", False),
    ("/f*", "foo/bar/baz", True),
    ("f*/", "bar/foo/baz", True),
    ("f*/", "foo", False),
    ("src/*/tests", "src/core/tests/test_a.py", True),
    ("src/*/tests", "src/tests/test_a.py", False),
    # ?
    ("v?.txt", "v1.txt", True),
    ("v?.txt", "v10.txt", False),
    # **
    ("**/logs", "logs/a.log", True),
    ("**/logs", "deep/down/logs/a.log", True),
    ("**/logs", "deep/catalogs/a", False),
    ("docs/**", "docs", False),
    ("docs/**", "docs/a/b/c.md", True),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/y/b/file", True),
    ("a/**/b", "z/a/b", False),
    ("a/**/b/c*", "a/q/b/cat", True),
    ("a/**/b/c*", "a/q/b/dog", False),
    # escapes and literal brackets
    (r"f\*o", "f*o", True),
    (r"f\*o", "foo", False),
    ("[ab].txt", "[ab].txt", True),
    ("[ab].txt", "a.txt", False),
    # "/" alone matches nothing
    ("/", "README.md", False),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), CASES)
def test_pattern(pattern: str, path: str, expected: bool) -> None:
    assert (compile_pattern(pattern).fullmatch(path) is not None) is expected


GITHUB_EXAMPLE = """
# Global owners, unless a later match takes precedence.
*       @global-owner1 @global-owner2

*.js    @js-owner #This is an inline comment.
*.go docs@example.com
*.txt @octo-org/octocats
/build/logs/ @doctocat
docs/*  docs@example.com
apps/ @octocat
/docs/ @doctocat
/scripts/ @doctocat @octocat
/apps/github
"""


def test_last_match_wins_and_unowned_rules() -> None:
    co = parse_codeowners(GITHUB_EXAMPLE)
    assert co.errors == ()
    assert co.owners_of("README.md") == ("@global-owner1", "@global-owner2")
    assert co.owners_of("web/app.js") == ("@js-owner",)
    assert co.owners_of("main.go") == ("docs@example.com",)
    assert co.owners_of("notes.txt") == ("@octo-org/octocats",)
    assert co.owners_of("build/logs/x.js") == ("@doctocat",)
    assert co.owners_of("docs/getting-started.md") == ("@doctocat",)  # /docs/ is later
    # `docs/*` has a slash in the middle, so it is anchored at the root (gitignore rules).
    assert co.owners_of("src/docs/guide.md") == ("@global-owner1", "@global-owner2")
    assert co.owners_of("apps/web/index.html") == ("@octocat",)
    assert co.owners_of("apps/github/main.py") == ()  # a later rule without owners
    assert co.owners_of("/scripts/deploy.sh") == ("@doctocat", "@octocat")
    assert co.owners_of("./scripts/deploy.sh") == ("@doctocat", "@octocat")


def test_owners_for_many_paths_is_an_ordered_union() -> None:
    text = "* @Core\n*.md @docs-team @core\n/api/ @org/api-team\n"
    assert owners_for(text, ["api/v1.py", "README.md", "x.py"]) == (
        "@org/api-team",
        "@docs-team",
        "@core",
    )
    assert owners_for(text, []) == ()
    assert owners_for("", ["a.py"]) == ()


def test_bad_lines_are_reported_not_fatal() -> None:
    co = parse_codeowners("!secret.txt @a\n*.py @good not-an-owner\nlogs/*** @b\n")
    assert len(co.errors) == 3
    assert [r.pattern for r in co.rules] == ["*.py"]
    assert co.owners_of("x.py") == ("@good",)


def test_escaped_space_in_pattern() -> None:
    co = parse_codeowners(r"My\ Docs/ @writer")
    assert co.owners_of("My Docs/intro.md") == ("@writer",)


def test_usual_locations() -> None:
    assert CODEOWNERS_PATHS == (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
