"""Bounds on a configuration file, checked before anything merges or expands it.

Anyone can put a `.github/veilleur.yml` in a pull request, and YAML aliases let 400 bytes stand
for a billion nodes (each `*alias` is the same object when loaded, a copy once merged). So the
loaded document is measured first, aliases counted as the copies they become, each distinct
node visited once: a file over the bounds is one configuration error with its line, like any
other, and is never merged.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap

from bot.config.errors import ConfigError

MAX_TEXT_BYTES = 1024 * 1024  # the file itself
MAX_NODES = 10_000  # keys, values and items once every alias is expanded
MAX_EXPANDED_BYTES = 1024 * 1024  # text of the keys and values once every alias is expanded
MAX_DEPTH = 32  # Veilleur's own schema nests four levels


class _Over(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Measure:
    """Expanded size of a node: (nodes, bytes), memoised per object so an alias costs one look."""

    def __init__(self) -> None:
        self.sizes: dict[int, tuple[int, int]] = {}
        self.open: set[int] = set()

    def size(self, node: Any, depth: int) -> tuple[int, int]:
        if depth > MAX_DEPTH:
            raise _Over(f"nested more than {MAX_DEPTH} levels deep")
        if not isinstance(node, dict | list):
            return 1, len(str(node)) if node is not None else 0
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        if key in self.open:
            raise _Over("an alias refers to itself")
        self.open.add(key)
        nodes, size = 1, 0
        children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
        for child in children:
            n, b = self.size(child, depth + 1)
            nodes, size = nodes + n, size + b
            if nodes > MAX_NODES:
                raise _Over(f"expands to more than {MAX_NODES:,} values (aliases count as copies)")
            if size > MAX_EXPANDED_BYTES:
                raise _Over(f"expands to more than {MAX_EXPANDED_BYTES:,} bytes of text")
        self.open.discard(key)
        self.sizes[key] = (nodes, size)
        return nodes, size


def _line_of(data: Any, key: Any) -> int | None:
    if isinstance(data, CommentedMap):
        try:
            return int(data.lc.key(key)[0]) + 1
        except (KeyError, TypeError, AttributeError):
            return None
    return None


def bound_errors(data: Any, filename: str) -> list[ConfigError]:
    """One error, at the top-level key where a bound is passed, or none."""
    measure = _Measure()
    nodes = size = 0
    if not isinstance(data, dict):
        return []
    for key, value in data.items():
        try:
            n, b = measure.size(value, 1)
            nodes, size = nodes + n + 1, size + b + len(str(key))
            if nodes > MAX_NODES:
                raise _Over(f"expands to more than {MAX_NODES:,} values (aliases count as copies)")
            if size > MAX_EXPANDED_BYTES:
                raise _Over(f"expands to more than {MAX_EXPANDED_BYTES:,} bytes of text")
        except _Over as over:
            line = _line_of(data, key)
            return [ConfigError(filename, line, 1 if line else None, str(key), over.message)]
    return []


def too_deep_line(text: str) -> int | None:
    """The line where blocks (indentation, `- ` items) and brackets first nest deeper than
    MAX_DEPTH, found in one pass before parsing: the YAML parser's cost grows with the square
    of the nesting (5,000 `[` took it 30 s) and its recursion has a limit."""
    indents: list[int] = []
    flow = 0
    for number, line in enumerate(text.split("\n"), start=1):
        body = line.lstrip(" ")
        if flow == 0:
            if not body or body.startswith("#"):
                continue
            indent = len(line) - len(body)
            while indents and indents[-1] >= indent:
                indents.pop()
            indents.append(indent)
            items = len(body) - len(body.lstrip("- "))  # `- - x` nests two sequences
            if len(indents) + items // 2 > MAX_DEPTH:
                return number
        quote: str | None = None
        last = ":"  # the last character that is not a space; a value may start after `:,[{-`
        i = 0
        while i < len(body):
            char = body[i]
            i += 1
            if quote is not None:
                if char == quote and body[i : i + 1] == "'" == quote:
                    i += 1  # '' inside single quotes is a quote
                elif char == quote:
                    quote, last = None, char
                continue
            if char == " ":
                continue
            if char == "#" and body[i - 2 : i - 1] == " ":
                break
            if last not in ":,[{-":  # inside a plain scalar: only `:` (and `,` in flow) end it
                last = char if char == ":" or (char in ",]}" and flow) else "a"
                flow -= 1 if char in "]}" and flow else 0
                continue
            if char in "&!*?":  # an anchor, tag, alias or complex key: the value may follow
                while i < len(body) and body[i] not in " []{},":
                    i += 1
                continue
            if char in "'\"":
                quote = char
            elif char in "[{":
                flow += 1
                if len(indents) + flow > MAX_DEPTH:
                    return number
            elif char in "]}" and flow:
                flow -= 1
            last = char
    return None


def size_error(text: str, filename: str) -> ConfigError | None:
    """The file itself is over MAX_TEXT_BYTES (checked before parsing)."""
    if len(text) > MAX_TEXT_BYTES or len(text.encode("utf-8", "replace")) > MAX_TEXT_BYTES:
        return ConfigError(filename, 1, 1, "", f"the file is larger than {MAX_TEXT_BYTES:,} bytes")
    return None
