# SPDX-License-Identifier: EUPL-1.2
"""`veilleur setup [--org ORG] --public-url URL [--env-file .env] [--force]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_setup(args: argparse.Namespace) -> int:
    from bot.settings import DEFAULT_GITHUB_API_URL, Settings, settings_from
    from bot.setup.envfile import EnvFileExists
    from bot.setup.flow import SetupPlan, run_setup

    settings = settings_from(args)
    public_url = args.public_url or settings.public_url
    if not public_url or not public_url.startswith(("http://", "https://")):
        print(
            "veilleur: give --public-url, the https:// address GitHub will send webhooks to "
            "(or set VEILLEUR_PUBLIC_URL).",
            file=sys.stderr,
        )
        return 2
    plan = SetupPlan(
        public_url=public_url,
        api_url=settings.github_api_url,
        web_url=settings.github_web_url,
        env_path=Path(args.env_file),
        force=args.force,
        org=args.org,
        name=args.name,
        defaults=(DEFAULT_GITHUB_API_URL, Settings.model_fields["github_web_url"].default),
        timeout_seconds=settings.github_timeout_seconds,
    )
    try:
        return run_setup(plan, args.host, args.port)
    except EnvFileExists as exc:
        print(f"veilleur: {exc}", file=sys.stderr)
        return 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "setup", help="register the GitHub App from its manifest and write its credentials"
    )
    p.add_argument("--org", help="create the App for this organisation (default: your account)")
    p.add_argument(
        "--public-url", help="Veilleur's public https:// address (default: VEILLEUR_PUBLIC_URL)"
    )
    p.add_argument("--name", help="the App's name on GitHub (default: Veilleur; must be unique)")
    p.add_argument("--env-file", default=".env", help="where to write the credentials (.env)")
    p.add_argument("--force", action="store_true", help="replace an existing env file")
    p.add_argument("--host", default="127.0.0.1", help="address of the local setup page")
    p.add_argument("--port", type=int, default=8000, help="port of the local setup page")
    p.set_defaults(func=cmd_setup)
