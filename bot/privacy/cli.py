"""`veilleur privacy purge [--dry-run]`, `veilleur privacy export LOGIN`,
`veilleur privacy erase LOGIN [--dry-run]`: the database only, no GitHub call."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import orjson


def _now(args: argparse.Namespace) -> datetime:
    if not getattr(args, "at", None):
        return datetime.now(UTC)
    at = datetime.fromisoformat(args.at.replace("Z", "+00:00"))
    if at.tzinfo is None:
        raise SystemExit("veilleur: --at needs a time zone, e.g. 2026-07-20T09:00:00+02:00")
    return at


def cmd_purge(args: argparse.Namespace) -> int:
    from bot.privacy.retention import purge
    from bot.settings import settings_from
    from bot.storage.db import make_engine

    settings = settings_from(args)
    engine = make_engine(settings.database_url)
    try:
        report = purge(
            engine,
            _now(args),
            payload_days=settings.payload_retention_days,
            person_days=settings.person_retention_days,
            dry_run=args.dry_run,
        )
    finally:
        engine.dispose()
    print("\n".join(report.lines()))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from bot.privacy.export import export_person
    from bot.settings import settings_from
    from bot.storage.db import make_engine

    engine = make_engine(settings_from(args).database_url)
    try:
        data = export_person(engine, args.login, _now(args))
    finally:
        engine.dispose()
    option = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    sys.stdout.write(orjson.dumps(data, option=option).decode() + "\n")
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from bot.privacy.erase import PrivacyError, erase
    from bot.settings import settings_from
    from bot.storage.db import make_engine

    engine = make_engine(settings_from(args).database_url)
    command = "veilleur privacy erase" + (" --dry-run" if args.dry_run else "")
    try:
        report = erase(engine, args.login, _now(args), command=command, dry_run=args.dry_run)
    except PrivacyError as exc:
        print(f"veilleur: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"pseudonym: {report.pseudonym}")
    print("\n".join(report.lines()))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("privacy", help="personal data: retention, access and erasure (GDPR)")
    psub = p.add_subparsers(dest="privacy_command", required=True)
    purge = psub.add_parser("purge", help="apply the retention rules now")
    purge.add_argument("--dry-run", action="store_true", help="show what would be removed")
    purge.add_argument("--at", help=argparse.SUPPRESS)  # evaluation instant (tests)
    purge.set_defaults(func=cmd_purge)
    export = psub.add_parser("export", help="print, as JSON, everything held about a person")
    export.add_argument("login", help="the person's GitHub login")
    export.add_argument("--at", help=argparse.SUPPRESS)
    export.set_defaults(func=cmd_export)
    erase = psub.add_parser("erase", help="erase a person from the record")
    erase.add_argument("login", help="the person's GitHub login")
    erase.add_argument("--dry-run", action="store_true", help="show what would change")
    erase.add_argument("--at", help=argparse.SUPPRESS)
    erase.set_defaults(func=cmd_erase)
