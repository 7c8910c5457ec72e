# SPDX-License-Identifier: EUPL-1.2
"""Checks that need no GitHub: settings, the database, SMTP and dashboard sign-in (with
GitHub and with GitLab)."""

from __future__ import annotations

import smtplib
import ssl

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.doctor import Check, fail, first_line, ok, skip
from bot.gitlab.settings import GitLabSettings
from bot.settings import Settings, SettingsError
from bot.storage.migrate import alembic_config

DB_FIX = "check VEILLEUR_DATABASE_URL, and that the database server runs and accepts this user"


def check_settings(settings: Settings) -> Check:
    try:
        settings.require_app()
    except SettingsError as exc:
        return fail("settings", str(exc), "run `veilleur setup`, or set the App's credentials")
    if not settings.webhook_secret:
        return fail(
            "settings",
            "VEILLEUR_WEBHOOK_SECRET is empty: every webhook is refused",
            "set it to the webhook secret of the App's settings",
        )
    dry = "; dry-run: no action is carried out" if settings.dry_run else ""
    return ok("settings", f"valid (App {settings.app_id}){dry}")


def check_database(engine: Engine, database_url: str) -> list[Check]:
    """Reachable, at the migrations' head, and writable (a write rolled back)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:
        return [fail("database reachable", first_line(exc), DB_FIX)]
    checks = [ok("database reachable", engine.url.render_as_string(hide_password=True))]
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    if current != head:
        checks.append(
            fail(
                "database migrated",
                f"at revision {current or 'none'}, this version of Veilleur needs {head}",
                "run `veilleur db upgrade` (`veilleur serve` also applies migrations at start)",
            )
        )
        return checks
    checks.append(ok("database migrated", f"at {head}"))
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            trans.rollback()
    except Exception as exc:
        return [
            *checks,
            fail(
                "database writable",
                first_line(exc),
                "give Veilleur's user write access to the database (SQLite: the file and its "
                "directory)",
            ),
        ]
    return [*checks, ok("database writable", "a test write succeeded (rolled back)")]


def check_ospo_members(engine: Engine) -> Check:
    """Every owner an organisation's `ospo.members` lists has consented (its own file names
    the organisation in `ospo.shared_with`); one that has not is left out of the
    organisation's digest and dashboard (bot/digest/ospo.py), which this says."""
    from sqlalchemy import select

    from bot.digest.configs import owner_config
    from bot.digest.ospo import partition_members, refusal_note
    from bot.storage.models import Repository

    name = "OSPO members"
    c = Repository.__table__.c  # type: ignore[attr-defined]
    with engine.connect() as conn:
        owners = sorted(
            {str(o) for (o,) in conn.execute(select(c.owner).distinct())}, key=str.lower
        )
    included: list[str] = []
    refused: list[tuple[str, str]] = []
    for org in owners:
        config = owner_config(engine, org)
        if not config.ospo.members:
            continue
        kept, left_out = partition_members(engine, org, config)
        included += [f"{org}: {', '.join(kept)}"] if kept else []
        refused += [(org, m) for m in left_out]
    if refused:
        return fail(
            name,
            "; ".join(refusal_note(org, member) for org, member in refused),
            "ask each such owner to name the organisation in `ospo.shared_with` of its own "
            "file (its .github repository, or its group's gitlab-profile), or remove it from "
            "`ospo.members`",
        )
    if not included:
        return ok(name, "no organisation lists other owners in ospo.members")
    return ok(name, "every listed owner consents (" + "; ".join(included) + ")")


def check_smtp(settings: Settings, timeout: float = 5.0) -> Check:
    if not settings.smtp_host:
        return skip("SMTP", "not configured: no mail (escalations and digests go to issues)")
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
            smtp.ehlo()
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_username and settings.smtp_password is not None:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.noop()
    except (OSError, smtplib.SMTPException) as exc:
        return fail(
            "SMTP",
            f"{where}: {first_line(exc)}",
            "check VEILLEUR_SMTP_HOST/PORT (and STARTTLS, USERNAME, PASSWORD), and that this "
            "machine may reach that server",
        )
    return ok("SMTP", f"{where} accepts connections")


OAUTH_SETTINGS = ("oauth_client_id", "oauth_client_secret", "session_secret")


def check_oauth(settings: Settings) -> Check:
    present = [name for name in OAUTH_SETTINGS if getattr(settings, name)]
    if not present:
        public = "public repositories shown to anyone" if settings.public_dashboard else "off"
        return skip("dashboard sign-in", f"not configured: the dashboard is {public}")
    missing = [f"VEILLEUR_{n.upper()}" for n in OAUTH_SETTINGS if n not in present]
    if missing:
        return fail(
            "dashboard sign-in",
            f"partly configured: {', '.join(missing)} missing",
            "set them all (`veilleur setup` writes them), or none to turn sign-in off",
        )
    base = (settings.public_url or "https://<your host>").rstrip("/")
    return ok("dashboard sign-in", f"configured; the App's callback URL: {base}/auth/callback")


def check_gitlab_oauth(settings: Settings, gitlab: GitLabSettings) -> Check:
    """Sign-in with GitLab: the instance, the application's ID and secret, the session key."""
    name = "GitLab sign-in"
    wanted = {
        "VEILLEUR_GITLAB_OAUTH_CLIENT_ID": gitlab.oauth_client_id,
        "VEILLEUR_GITLAB_OAUTH_SECRET": gitlab.oauth_secret,
    }
    if not any(wanted.values()):
        return skip(name, "not configured: people whose code is on GitLab cannot sign in")
    wanted |= {
        "VEILLEUR_GITLAB_URL": gitlab.url,
        "VEILLEUR_SESSION_SECRET": settings.session_secret,
    }
    missing = [env for env, value in wanted.items() if not value]
    if missing:
        return fail(
            name,
            f"partly configured: {', '.join(missing)} missing",
            "set them all, or neither VEILLEUR_GITLAB_OAUTH_* setting to turn it off",
        )
    base = (settings.public_url or "https://<your host>").rstrip("/")
    return ok(
        name,
        f"configured on {gitlab.url}; the GitLab application's redirect URI: "
        f"{base}/auth/gitlab/callback, scope read_api",
    )
