"""Veilleur: no outside contribution to shared public-sector software goes silently unanswered."""

__version__ = "0.1.0"
