"""`veilleur digest --org ORG|HOST/GROUP [--week YYYY-Www] [--format md|json|html|csv]
[--lang en|fr|nl|de] [--pseudonymise]`; a GitLab group is named with its host
(`gitlab.example.org/city`).

Reads the database only (no App credentials, no GitHub call): the record, and the last valid
config of each repository stored in it. The default week is the last complete ISO week in the
org's calendar time zone (Europe/Paris unless configured otherwise).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from bot.clock import SystemClock, instant_arg
from bot.messages.l10n import LANGUAGES

FORMATS = ("md", "json", "html", "csv")


def _parse_at(value: str | None) -> datetime:
    return instant_arg(value, SystemClock(), "2026-07-20T09:00:00+02:00")


def cmd_digest(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from bot.digest.compute import compute_digest
    from bot.digest.configs import OrgConfigs, stored_configs
    from bot.digest.render import render_digest
    from bot.gitlab.settings import web_links
    from bot.settings import settings_from
    from bot.storage.db import make_engine

    settings = settings_from(args)
    engine = make_engine(settings.database_url)
    try:
        known = known_orgs(engine)
        if args.org not in known:
            print(_unknown_org(args.org, known, settings.database_url), file=sys.stderr)
            return 2
        configs = OrgConfigs(args.org, None, stored_configs(engine, args.org))
        links = web_links(settings.github_web_url)  # GitLab items link to their instance
        digest = compute_digest(engine, args.org, args.week, now=_parse_at(args.at), url_base=links)
    except ValueError as exc:
        print(f"veilleur: {exc}", file=sys.stderr)
        return 2
    except (OperationalError, ProgrammingError) as exc:
        print(f"veilleur: cannot read the database ({exc.orig}); run `veilleur db upgrade`?",
              file=sys.stderr)  # fmt: skip
        return 2
    finally:
        engine.dispose()
    lang = args.lang or configs.default.digest.language
    if args.pseudonymise or configs.default.digest.pseudonymise:
        from bot.privacy.outputs import pseudonymise
        from bot.privacy.pseudonyms import Pseudonyms

        engine = make_engine(settings.database_url)
        try:
            digest = pseudonymise(digest, Pseudonyms.of(engine))
        finally:
            engine.dispose()
    sys.stdout.write(render_digest(digest, args.format, lang))
    return 0


def known_orgs(engine: Any) -> set[str]:
    """Owners Veilleur has a record of: installations, repositories, items."""
    from sqlmodel import Session, col, select

    from bot.forge.names import owner_of
    from bot.storage.models import Installation, Item, Repository

    with Session(engine) as s:
        found = set(s.exec(select(Installation.account_login).distinct()).all())
        found |= set(s.exec(select(Repository.owner).distinct()).all())
        names = s.exec(select(col(Item.repo_full_name)).distinct()).all()
    return found | {owner_of(n) for n in names if "/" in n}


def _unknown_org(org: str, known: set[str], url: str) -> str:
    from sqlalchemy.engine import make_url

    where = make_url(url).render_as_string(hide_password=True)
    near = [k for k in sorted(known) if k.lower() == org.lower()]
    hint = f"did you mean {near[0]}?" if near else f"it knows: {', '.join(sorted(known)) or 'none'}"
    return f"veilleur: no organisation {org!r} in the database {where} ({hint})."


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "digest", help="print an org's weekly contributor-health digest (from the database)"
    )
    p.add_argument(
        "--org",
        required=True,
        help="GitHub organisation, or GitLab group with its host (gitlab.example.org/city)",
    )
    p.add_argument("--week", help="ISO week, e.g. 2026-W29 (default: the last complete week)")
    p.add_argument("--format", choices=FORMATS, default="md", help="output format (default md)")
    p.add_argument("--lang", choices=list(LANGUAGES), help="default: the org's digest.language")
    p.add_argument(
        "--pseudonymise", action="store_true", help="logins replaced by stable pseudonyms"
    )
    p.add_argument("--at", help=argparse.SUPPRESS)  # evaluation instant (tests, replays)
    p.set_defaults(func=cmd_digest)
