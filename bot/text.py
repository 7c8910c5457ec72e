"""Small text rules shared by handlers: what a comment really says once quotes and code are gone."""

from __future__ import annotations

from bot.markdown_scan import own_words

__all__ = ["asks_question", "own_words"]


def asks_question(body: str) -> bool:
    """A maintainer comment that asks the author something hands them the turn."""
    return "?" in own_words(body)
