"""The `veilleur` command's parser: the core sub-commands here, and `commands()`, the one list
of those that live in modules of their own."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from bot.cli.errors import port_number
from bot.settings import SettingsError, settings_from


def cmd_serve(args: argparse.Namespace) -> int:
    # httpx imports its command-line tool whenever rich, click and pygments are installed (they
    # are): ~5 MB in the server, which never runs it. Without it `httpx.main` says so.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    import uvicorn

    from bot import logs
    from bot.app import create_app
    from bot.cli.errors import bind
    from bot.storage.upgrade_apart import upgrade_apart

    settings = settings_from(args)
    if settings.dashboard_open:
        raise SettingsError(
            "VEILLEUR_DASHBOARD_OPEN serves every private repository to anyone and is refused "
            "by `veilleur serve`: unset it and configure sign-in or VEILLEUR_PUBLIC_DASHBOARD."
        )
    run_worker = not args.no_worker
    if run_worker:
        settings.require_app()
    host, port = args.host or settings.host, args.port or settings.port
    sock = bind(host, port, how_to_change="--port (or VEILLEUR_PORT)")  # taken: one sentence
    logs.configure(settings.log_level, settings.log_format)
    hook = None
    if not run_worker and settings.is_postgres:  # scale-out web replica: enqueue jobs too
        from bot.queue.scaleout.queue import apply_schema, intake_hook

        apply_schema(settings.database_url, alembic=True)
        hook = intake_hook(settings.database_url)
    else:  # in a process apart: Alembic never loads here, nor in the forked worker
        upgrade_apart(settings.database_url, f"{settings.log_level}:{settings.log_format}")
    app = create_app(
        settings,
        run_worker=run_worker,
        migrate=False,
        in_transaction=hook,
        worker_process=run_worker,
    )
    from bot.intake.limits import header_deadline_protocol

    bound_host, bound_port = sock.getsockname()[:2]
    logging.getLogger("veilleur").info("listening on http://%s:%d", bound_host, bound_port)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        http=header_deadline_protocol(settings.request_timeout_seconds),
        ws="none",  # no WebSocket route: the websockets library is never imported
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.storage.migrate import upgrade

    settings = settings_from(args)
    upgrade(settings.database_url, args.revision)
    if settings.is_postgres and args.revision == "head":
        from bot.queue.scaleout.queue import apply_schema

        if apply_schema(settings.database_url):
            print("queue schema (procrastinate) applied")
    print(f"database at {args.revision}")
    return 0


def cmd_db_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.storage.backup import BackupError, backup

    try:
        print(backup(settings_from(args).database_url, Path(args.file), force=args.force))
    except BackupError as exc:
        print(f"veilleur: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_deliveries(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from bot.queue import deliveries
    from bot.storage.db import make_engine

    settings = settings_from(args)
    engine = make_engine(settings.database_url)
    rows = deliveries.recent(engine, limit=args.limit, status=args.status)
    table = Table("received", "guid", "event", "status", "attempts", "last error")
    for d in rows:
        table.add_row(
            d.received_at.isoformat(timespec="seconds") if d.received_at else "",
            d.guid,
            f"{d.event}.{d.action}" if d.action else d.event,
            d.status,
            str(d.attempts),
            (d.last_error or "")[:80],
        )
    Console(width=200).print(table)
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    from bot.config.loader import check_file

    errors = check_file(args.file)
    for err in errors:
        print(str(err))
    if not errors:
        print(f"{args.file}: valid")
    return 1 if errors else 0


def build_parser(*, serve_only: bool = False) -> argparse.ArgumentParser:
    """The whole command tree; `serve_only`: the same parser with `serve` alone, so that the
    server never imports the other commands' modules (Alembic, rich, mako, pygments: ~18 MB,
    kept for the process's life and by the worker forked from it)."""
    parser = argparse.ArgumentParser(
        prog="veilleur",
        description="Make sure no outside contribution is silently ignored.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--database-url", help=DATABASE_URL_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web app, worker and scheduler")
    serve.add_argument("--host", help="address to listen on (overrides VEILLEUR_HOST)")
    serve.add_argument(
        "--port", type=port_number, help="port to listen on (overrides VEILLEUR_PORT)"
    )
    serve.add_argument(
        "--no-worker", action="store_true", help="web only (scale-out: run `veilleur worker`)"
    )
    serve.set_defaults(func=cmd_serve)
    if serve_only:
        _accept_database_url_everywhere(parser)
        return parser

    db = sub.add_parser("db", help="database migrations")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="apply Alembic migrations")
    up.add_argument(
        "revision", nargs="?", default="head", help="Alembic revision to reach (default: head)"
    )
    up.set_defaults(func=cmd_db_upgrade)
    bk = dbsub.add_parser("backup", help="copy the database to FILE while Veilleur runs")
    bk.add_argument("file", help="where to write the backup (SQLite file or pg_dump archive)")
    bk.add_argument("--force", action="store_true", help="replace FILE if it exists")
    bk.set_defaults(func=cmd_db_backup)

    dl = sub.add_parser("deliveries", help="list recent deliveries and their status")
    dl.add_argument("--limit", type=int, default=50, help="rows to show (default 50)")
    dl.add_argument(
        "--status",
        choices=["received", "processing", "done", "failed", "dead"],
        help="only deliveries in this state",
    )
    dl.set_defaults(func=cmd_deliveries)

    cfg = sub.add_parser("config", help="repository configuration")
    cfgsub = cfg.add_subparsers(dest="config_command", required=True)
    chk = cfgsub.add_parser(
        "check", help="validate a .github/veilleur.yml file (.gitlab/veilleur.yml on GitLab)"
    )
    chk.add_argument("file", help="path of the veilleur.yml file to check")
    chk.set_defaults(func=cmd_config_check)

    for register in commands():
        register(sub)
    _accept_database_url_everywhere(parser)
    return parser


DATABASE_URL_HELP = "database URL (overrides VEILLEUR_DATABASE_URL)"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("veilleur")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _accept_database_url_everywhere(parser: argparse.ArgumentParser) -> None:
    """`veilleur db upgrade --database-url URL` as well as `veilleur --database-url URL db
    upgrade`: every sub-command takes the option, and leaves the main one's value alone when
    it is not given (SUPPRESS)."""
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for child in set(action.choices.values()):
            if "--database-url" not in child._option_string_actions:
                child.add_argument(
                    "--database-url", default=argparse.SUPPRESS, help=DATABASE_URL_HELP
                )
            _accept_database_url_everywhere(child)


def commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    """The one list of the sub-commands that live in their own modules, in the help's order.
    Imported here, when the parser is built, so `veilleur --help` stays quick."""
    from bot.cli.backfill import register as backfill
    from bot.cli.demo import register as demo
    from bot.cli.remind import register as remind
    from bot.digest.cli import register as digest
    from bot.doctor.cli import register as doctor
    from bot.privacy.cli import register as privacy
    from bot.queue.scaleout.worker import register_cli as worker
    from bot.replay.cli import register as replay
    from bot.setup.cli import register as setup

    return [demo, remind, backfill, worker, digest, replay, setup, doctor, privacy]


if __name__ == "__main__":  # pragma: no cover
    from bot.cli import main

    sys.exit(main())
