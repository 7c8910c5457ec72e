# SPDX-License-Identifier: EUPL-1.2
"""`veilleur doctor [--json]`: run every check, print ✔/✘ lines with fixes, exit 1 if any
check failed."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, TextIO

from bot.clock import Clock, SystemClock
from bot.doctor import Check, fail, first_line, local, skip
from bot.doctor import github as gh_checks
from bot.gitlab.settings import GitLabSettings, load_gitlab_settings
from bot.settings import Settings, SettingsError

MARKS = {"ok": "✔", "fail": "✘", "skip": "–"}


def run_checks(
    settings: Settings, clock: Clock, gitlab: GitLabSettings | None = None
) -> list[Check]:
    """Every check in order; a check that cannot run because of an earlier failure is skipped.
    `gitlab`: the `VEILLEUR_GITLAB_*` settings (read from the environment when not given)."""
    from bot.storage.db import make_engine

    checks = [local.check_settings(settings)]
    engine = make_engine(settings.database_url)
    try:
        db = local.check_database(engine, settings.database_url)
        checks += db
        usable = engine if all(c.status == "ok" for c in db) else None
        if usable is not None:
            checks.append(local.check_ospo_members(engine))
        if settings.app_id is not None and checks[0].status == "ok":
            checks += asyncio.run(_github_checks(settings, clock, usable))
        else:
            checks.append(skip("GitHub", "not checked: the App's settings are incomplete"))
    finally:
        engine.dispose()
    checks.append(local.check_smtp(settings))
    checks.append(local.check_oauth(settings))
    try:
        gitlab = gitlab or load_gitlab_settings()
    except SettingsError as exc:
        checks.append(
            fail("GitLab sign-in", str(exc), "correct that setting (environment or .env)")
        )
    else:
        checks.append(local.check_gitlab_oauth(settings, gitlab))
    return checks


async def _github_checks(settings: Settings, clock: Clock, engine: Any) -> list[Check]:
    gh = gh_checks.app_client(settings)
    checks, app = await gh_checks.check_app(gh, clock.now())
    if app is None:
        return [*checks, skip("webhook and installations", "not checked: see App credentials")]
    try:
        checks += await gh_checks.check_hook_config(gh, settings)
        checks.append(await gh_checks.check_deliveries(gh))
        found, installs = await gh_checks.check_installations(gh, engine, app)
        checks += found
        if installs:
            checks.append(await gh_checks.check_configs(gh, installs))
    except Exception as exc:  # an answer the checks did not expect: say so, do not crash
        checks.append(
            fail("GitHub", f"unexpected error: {first_line(exc)}", "run again; report if it stays")
        )
    return checks


def render(checks: list[Check], out: TextIO) -> None:
    for c in checks:
        out.write(f"{MARKS[c.status]} {c.name}: {c.detail}\n")
        if c.fix:
            out.write(f"    fix: {c.fix}\n")


def cmd_doctor(args: argparse.Namespace, clock: Clock | None = None) -> int:
    from bot.settings import settings_from

    try:
        settings = settings_from(args)
    except SettingsError as exc:
        checks = [fail("settings", str(exc), "correct that setting (environment or .env)")]
    else:
        checks = run_checks(settings, clock or SystemClock())
    failed = any(c.status == "fail" for c in checks)
    if args.json:
        body = {"ok": not failed, "checks": [c.as_json() for c in checks]}
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
    else:
        render(checks, sys.stdout)
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check settings, database, GitHub, webhooks, mail, sign-in")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=cmd_doctor)
