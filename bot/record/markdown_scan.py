"""Linear-time scanning of Markdown written by strangers: what is prose, what is code, headings.

Comments, issue bodies and commit messages come from anyone, up to 65,536 characters, so none of
this may backtrack: every function walks its text once with `str.find`/`startswith` and plain
loops, never a regex with nested or ambiguous repetition. The rules follow what GitHub renders:
fenced and indented code, `<pre>` blocks, quotes and HTML comments are not someone's own words,
and neither is inline code.
"""

from __future__ import annotations

from collections.abc import Iterator

_SPACES = " \t"


def strip_html_comments(text: str) -> str:
    """`text` without `<!-- ... -->`; an unclosed comment hides the rest, as GitHub renders it."""
    out: list[str] = []
    pos = 0
    while True:
        start = text.find("<!--", pos)
        if start < 0:
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos:start])
        end = text.find("-->", start + 4)
        if end < 0:
            return "".join(out)
        pos = end + 3


def _tag_at(text: str, i: int, name: str) -> bool:
    """Whether an HTML tag `name` (case-insensitive, like `<pre` or `</pre`) starts at `i`."""
    end = i + len(name)
    if text[i:end].lower() != name:
        return False
    return end >= len(text) or text[end] in "> \t\n/"


def _find_tag(text: str, name: str, pos: int) -> int:
    """Index of the next `<pre`-like tag from `pos` (each `<` looked at once), or -1."""
    while True:
        i = text.find("<", pos)
        if i < 0 or _tag_at(text, i, name):
            return i
        pos = i + 1


def strip_pre_blocks(text: str) -> str:
    """`text` without `<pre>...</pre>` blocks (code, as GitHub shows them); unclosed: to the end."""
    out: list[str] = []
    pos = 0
    while True:
        start = _find_tag(text, "<pre", pos)
        if start < 0:
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos:start])
        end = _find_tag(text, "</pre", start + 4)
        if end < 0:
            return "".join(out)
        close = text.find(">", end)
        pos = len(text) if close < 0 else close + 1
        out.append("\n")  # the block ends a line: what follows is not glued to what preceded


def _backtick_runs(line: str) -> list[tuple[int, int]]:
    """(start, length) of each maximal run of backticks in `line`."""
    runs: list[tuple[int, int]] = []
    i = line.find("`")
    while i >= 0:
        j = i
        while j < len(line) and line[j] == "`":
            j += 1
        runs.append((i, j - i))
        i = line.find("`", j)
    return runs


def strip_inline_code(line: str) -> str:
    """`line` without code spans: a run of n backticks up to the next run of exactly n.

    The next run of each length is found once, from the right, so a line of many unmatched
    runs (the classic backtracking trap) costs one pass.
    """
    runs = _backtick_runs(line)
    if len(runs) < 2:
        return line
    next_same: list[int | None] = [None] * len(runs)
    last: dict[int, int] = {}
    for k in range(len(runs) - 1, -1, -1):
        next_same[k] = last.get(runs[k][1])
        last[runs[k][1]] = k
    out: list[str] = []
    pos = 0
    k = 0
    while k < len(runs):
        closing = next_same[k]
        if closing is None:
            k += 1
            continue
        start, _ = runs[k]
        end = runs[closing][0] + runs[closing][1]
        out.append(line[pos:start])
        pos = end
        k = closing + 1
    out.append(line[pos:])
    return "".join(out)


def fence_opening(line: str) -> str | None:
    """The fence (three or more backticks or tildes) a line opens, indented at most 3 spaces."""
    body = line.lstrip(" ")
    if len(line) - len(body) > 3 or len(body) < 3 or body[0] not in "`~":
        return None
    n = 0
    while n < len(body) and body[n] == body[0]:
        n += 1
    return body[:n] if n >= 3 else None


def _closes(line: str, fence: str) -> bool:
    mark = fence_opening(line)
    return (
        mark is not None
        and line.strip() == mark
        and mark[0] == fence[0]
        and len(mark) >= len(fence)
    )


def is_quote_or_indented(raw: str) -> bool:
    return raw.startswith(("    ", "\t")) or raw.lstrip().startswith(">")


def code_free_lines(text: str) -> Iterator[tuple[str, bool]]:
    """Each line of `text` (comments and `<pre>` blocks already gone), and whether it is prose
    (False inside fenced code and on fence lines)."""
    fence: str | None = None
    for raw in text.split("\n"):
        line = raw.rstrip()
        if fence is not None:
            if _closes(line, fence):
                fence = None
            yield raw, False
            continue
        opening = fence_opening(line)
        if opening:
            fence = opening
            yield raw, False
            continue
        yield raw, True


def visible(body: str) -> str:
    """`body` as GitHub shows it, minus HTML comments and `<pre>` blocks; newlines normalised."""
    return strip_pre_blocks(strip_html_comments((body or "").replace("\r\n", "\n")))


def prose_lines(body: str) -> list[str]:
    """Lines outside fenced/indented code, `<pre>` blocks, quotes and HTML comments, inline code
    removed: where commands and questions may be."""
    out: list[str] = []
    for raw, prose in code_free_lines(visible(body)):
        if prose and not is_quote_or_indented(raw):
            out.append(strip_inline_code(raw.rstrip()))
    return out


def own_words(body: str) -> str:
    """The comment without code, quotes and HTML comments."""
    return "\n".join(prose_lines(body))


def atx_heading(line: str) -> str | None:
    """The text of a `# heading` line (1 to 6 #, a space, text, optional closing #), or None."""
    body = line.lstrip(" ")
    if len(line) - len(body) > 3 or not body.startswith("#"):
        return None
    level = len(body) - len(body.lstrip("#"))
    rest = body[level:]
    if level > 6 or not rest or rest[0] not in _SPACES:
        return None
    text = rest.strip()
    return (text.rstrip("#").rstrip() or text) if text else None


def sections(body: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Lines before the first heading, and each (heading, text under it) outside code blocks."""
    preamble: list[str] = []
    found: list[tuple[str, list[str]]] = []
    for raw, prose in code_free_lines(visible(body)):
        heading = atx_heading(raw.rstrip()) if prose else None
        if heading is not None:
            found.append((heading, []))
        elif found:
            found[-1][1].append(raw)
        else:
            preamble.append(raw)
    return preamble, [(h, "\n".join(lines)) for h, lines in found]


def strip_checkbox(line: str) -> str:
    """`line` without a leading task-list box (`- [ ]`, `* [x]`)."""
    body = line.lstrip()
    if not body.startswith(("-", "*")):
        return line
    rest = body[1:].lstrip()
    if len(rest) >= 3 and rest[0] == "[" and rest[1] in " xX" and rest[2] == "]":
        return rest[3:].lstrip()
    return line
