"""The `veilleur` command: `main` (the entry point) runs a sub-command of the parser built in
`bot.cli.commands`, and says in one sentence what stops it at its start."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from bot.cli.commands import build_parser
from bot.cli.errors import database_problem
from bot.settings import SettingsError, settings_from


def _database_sentence(args: argparse.Namespace, exc: Exception) -> str | None:
    """One sentence for a database the settings point at but that cannot be used."""
    from sqlalchemy.exc import DBAPIError

    from bot.storage.upgrade_apart import DatabaseRefused

    try:
        import psycopg

        driver_errors: tuple[type[BaseException], ...] = (DBAPIError, psycopg.Error)
    except ImportError:  # pragma: no cover - psycopg is a main dependency
        driver_errors = (DBAPIError,)
    driver_errors += (DatabaseRefused,)
    if not isinstance(exc, driver_errors):
        return None
    try:
        url = settings_from(args).database_url
    except SettingsError:
        return None
    return database_problem(exc, url)


def serving(argv: Sequence[str]) -> bool:
    """Whether the command is `serve` (after the main options), not asking for help."""
    words = iter(argv)
    for word in words:
        if word == "--database-url":
            next(words, None)
        elif not word.startswith("--database-url="):
            return word == "serve"
    return False


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and serving(sys.argv[1:]):  # the installed command, not a test's call
        from bot import heap

        lean = heap.lean_command(sys.argv[1:])
        if lean is not None:
            sys.stdout.flush()
            os.execv(lean[0], lean)  # noqa: S606 - this interpreter, this command, same pid
    parser = build_parser(serve_only=serving(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"veilleur: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        sentence = _database_sentence(args, exc)
        if sentence is None:
            raise
        print(f"veilleur: {sentence}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
