"""Locate the packaged `templates/` and `config/` folders, installed or from a source checkout."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    installed = _PKG / "_data" / name
    if installed.is_dir():
        return installed
    return _PKG.parent / name


def templates_dir() -> Path:
    return data_dir("templates")


def config_dir() -> Path:
    return data_dir("config")


def data_file(name: str) -> Path:
    """A packaged top-level file (e.g. `app-manifest.json`), installed or in the checkout."""
    installed = _PKG / "_data" / name
    return installed if installed.is_file() else _PKG.parent / name
