"""Veilleur's record: who people are, the timeline of items, and the text rules that read it."""
