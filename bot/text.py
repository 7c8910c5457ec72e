"""Small text rules shared by handlers: what a comment really says once quotes and code are gone."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.M | re.S)
_INLINE = re.compile(r"`[^`\n]*`")
_QUOTE = re.compile(r"^\s*>.*$", re.M)
_INDENTED = re.compile(r"^(?: {4}|\t).*$", re.M)
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def own_words(body: str) -> str:
    """The comment without code blocks, inline code, quotes and HTML comments."""
    text = _FENCE.sub("", body or "")
    text = _COMMENT.sub("", text)
    text = _QUOTE.sub("", text)
    text = _INDENTED.sub("", text)
    return _INLINE.sub("", text)


def asks_question(body: str) -> bool:
    """A maintainer comment that asks the author something hands them the turn."""
    return "?" in own_words(body)
