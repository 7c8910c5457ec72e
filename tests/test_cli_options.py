# SPDX-License-Identifier: EUPL-1.2
"""The command line itself: `--version`, a help text for every option, `--database-url` in
either place."""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.cli.commands import build_parser


def _parsers(
    parser: argparse.ArgumentParser, path: str = "veilleur"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_every_option_and_argument_has_a_help_text() -> None:
    missing = [
        f"{path}: {action.option_strings or action.dest}"
        for path, parser in _parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert missing == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("veilleur ") and out.split()[1][0].isdigit()


@pytest.mark.parametrize("after", [True, False])
def test_database_url_before_or_after_the_subcommand(tmp_path: Path, after: bool) -> None:
    db = tmp_path / "placed.db"
    url = ["--database-url", f"sqlite:///{db}"]
    argv = ["db", "upgrade", *url] if after else [*url, "db", "upgrade"]
    assert main(argv) == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()


def test_every_subcommand_accepts_database_url() -> None:
    parser = build_parser()
    without = [
        path for path, p in _parsers(parser) if "--database-url" not in p._option_string_actions
    ]
    assert without == []
    args = parser.parse_args(["deliveries", "--database-url", "sqlite:///a.db"])
    assert args.database_url == "sqlite:///a.db"
    assert parser.parse_args(["deliveries"]).database_url is None
