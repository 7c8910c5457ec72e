"""Small text rules shared by handlers: what a comment really says once quotes and code are gone."""

from __future__ import annotations

import re

from bot.record.markdown_scan import own_words

__all__ = ["asks_question", "break_autolinks", "own_words", "without_invisible"]

# Characters that reorder or hide text (Trojan-Source style bidirectional controls) or are not
# seen at all; removed from contributor text before Veilleur copies it anywhere.
INVISIBLE = (
    "\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
_INVISIBLE_TABLE = dict.fromkeys(map(ord, INVISIBLE))
ZWJ = "\u200d"
_WWW = re.compile(r"(?i)\b(www)\.")  # fixed length: linear


def without_invisible(text: str) -> str:
    """`text` without bidirectional controls and zero-width characters."""
    return text.translate(_INVISIBLE_TABLE)


def break_autolinks(text: str) -> str:
    """Bare URLs (`https://...`, `www.`) shown as text: GitHub and mail clients will not link
    them, as a zero-width joiner Veilleur adds breaks the `://` and `www.` they look for."""
    return _WWW.sub(r"\1" + ZWJ + ".", text.replace("://", ":" + ZWJ + "//"))


def asks_question(body: str) -> bool:
    """A maintainer comment that asks the author something hands them the turn."""
    return "?" in own_words(body)
