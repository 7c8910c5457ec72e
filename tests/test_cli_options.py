# SPDX-License-Identifier: EUPL-1.2
"""The command line itself: `--version`, a help text for every option, `--database-url` in
either place."""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.cli.commands import build_parser
from bot.sim import AppKeyPair

ROOT = Path(__file__).resolve().parents[1]


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


def test_serve_parses_its_command_line_without_the_other_commands_modules(
    tmp_path: Path, app_keypair: AppKeyPair
) -> None:
    """The server keeps what it imports for its whole life (and shares it with the worker
    forked from it): the other commands' modules (Alembic, rich...) are never loaded."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])  # taken: `serve` stops once its options are read
        code = (
            "import sys\n"
            "from bot.cli import main\n"
            f"argv = ['--database-url', 'sqlite:///{tmp_path / 'v.db'}', 'serve', '--port', {port!r}]\n"
            "assert main(argv) == 2\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'rich', 'mako')"
            " or m.startswith('bot.') and m.endswith('.cli') and m != 'bot.cli'))\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("VEILLEUR_")}
        env |= {"VEILLEUR_APP_ID": "1", "VEILLEUR_PRIVATE_KEY": app_keypair.private_pem}
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env
        )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
    assert "is already in use" in out.stderr
    serve = build_parser(serve_only=True).parse_args(["serve", "--port", "8000", "--no-worker"])
    full = build_parser().parse_args(["serve", "--port", "8000", "--no-worker"])
    assert vars(serve) == vars(full)
