"""The `veilleur` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from bot.settings import Settings, SettingsError, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    return load_settings(**overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot import logs
    from bot.app import create_app
    from bot.migrate import upgrade

    settings = _settings(args)
    if settings.dashboard_open:
        raise SettingsError(
            "VEILLEUR_DASHBOARD_OPEN serves every private repository to anyone and is refused "
            "by `veilleur serve`: unset it and configure sign-in or VEILLEUR_PUBLIC_DASHBOARD."
        )
    run_worker = not args.no_worker
    if run_worker:
        settings.require_app()
    logs.configure(settings.log_level, settings.log_format)
    hook = None
    if not run_worker and settings.is_postgres:  # scale-out web replica: enqueue jobs too
        from bot.scaleout.queue import apply_schema, intake_hook

        apply_schema(settings.database_url, alembic=True)
        hook = intake_hook(settings.database_url)
    else:
        upgrade(settings.database_url)
    app = create_app(
        settings,
        run_worker=run_worker,
        migrate=False,
        in_transaction=hook,
        worker_process=run_worker,
    )
    from bot.intake_limits import header_deadline_protocol

    uvicorn.run(
        app,
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_config=None,
        access_log=False,
        http=header_deadline_protocol(settings.request_timeout_seconds),
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.migrate import upgrade

    settings = _settings(args)
    upgrade(settings.database_url, args.revision)
    if settings.is_postgres and args.revision == "head":
        from bot.scaleout.queue import apply_schema

        if apply_schema(settings.database_url):
            print("queue schema (procrastinate) applied")
    print(f"database at {args.revision}")
    return 0


def cmd_deliveries(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from bot import deliveries
    from bot.storage.db import make_engine

    settings = _settings(args)
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
    from bot.config import check_file

    errors = check_file(args.file)
    for err in errors:
        print(str(err))
    if not errors:
        print(f"{args.file}: valid")
    return 1 if errors else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="veilleur",
        description="Make sure no outside contribution is silently ignored.",
    )
    parser.add_argument("--database-url", help="overrides VEILLEUR_DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web app, worker and scheduler")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--no-worker", action="store_true", help="web only (scale-out: run `veilleur worker`)"
    )
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database migrations")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="apply Alembic migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)

    dl = sub.add_parser("deliveries", help="list recent deliveries and their status")
    dl.add_argument("--limit", type=int, default=50)
    dl.add_argument("--status", choices=["received", "processing", "done", "failed", "dead"])
    dl.set_defaults(func=cmd_deliveries)

    cfg = sub.add_parser("config", help="repository configuration")
    cfgsub = cfg.add_subparsers(dest="config_command", required=True)
    chk = cfgsub.add_parser("check", help="validate a .github/veilleur.yml file")
    chk.add_argument("file")
    chk.set_defaults(func=cmd_config_check)

    from bot import cli_ops

    cli_ops.register(sub)
    from bot.scaleout.worker import register_cli as register_worker

    register_worker(sub)
    for register in EXTRA_COMMANDS:
        register(sub)
    return parser


# Feature modules add their sub-commands here (remind, digest, backfill, worker, demo).
EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def _digest_commands(sub: argparse._SubParsersAction) -> None:
    from bot.digest.cli import register

    register(sub)


EXTRA_COMMANDS.append(_digest_commands)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"veilleur: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
