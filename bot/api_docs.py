"""Descriptions of the JSON API's schemas that survive `python -OO` (`veilleur serve` runs so:
bot/heap.py), which drops docstrings, where pydantic and FastAPI would otherwise read them."""

from __future__ import annotations

from pydantic import ConfigDict


def described(text: str) -> ConfigDict:
    """A model's (or dataclass's `__pydantic_config__`) configuration giving its description."""
    return ConfigDict(json_schema_extra={"description": text})
