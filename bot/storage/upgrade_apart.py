"""Schema upgrades in a short process of their own, before `veilleur serve` starts its writer.

Alembic brings mako, pygments and the migration scripts (~7 MB): loaded in the web process,
they would stay there, and in the worker forked from it, for a job done once at start. The
writer process starts once the schema is current, so it never migrates (bot/intake/writer_main.py).

    python -m bot.storage.upgrade_apart    (run by `upgrade_apart`, URL in the environment)
"""

from __future__ import annotations

import os
import subprocess
import sys

_URL_ENV = "VEILLEUR_UPGRADE_DATABASE_URL"
_LOG_ENV = "VEILLEUR_UPGRADE_LOG"
_REFUSED = 3  # exit status: the database driver refused; its message on stdout


class DatabaseRefused(RuntimeError):
    """The database driver refused the upgrade (unreachable, no such file or database...)."""


def upgrade_apart(database_url: str, log_spec: str = "INFO:json") -> None:
    """Upgrade to the latest schema in a child process; its log lines go to our stderr.

    The driver's refusal raises DatabaseRefused with its message, which `veilleur` turns into
    the same sentence as before (bot/cli/errors.py); any other failure raises RuntimeError
    after the child's traceback."""
    env = {**os.environ, _URL_ENV: database_url, _LOG_ENV: log_spec}
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot.storage.upgrade_apart"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode == _REFUSED:
        raise DatabaseRefused(done.stdout.rstrip("\n"))
    if done.returncode:
        raise RuntimeError(f"the schema upgrade failed (exit {done.returncode}): see above")


def main() -> int:
    import psycopg
    from sqlalchemy.exc import DBAPIError

    from bot import logs
    from bot.storage.migrate import upgrade

    level, fmt = os.environ.get(_LOG_ENV, "INFO:json").split(":")
    logs.configure(level, fmt)
    try:
        upgrade(os.environ[_URL_ENV])
    except (DBAPIError, psycopg.Error) as exc:
        print(str(getattr(exc, "orig", None) or exc))
        return _REFUSED
    return 0


if __name__ == "__main__":
    sys.exit(main())
