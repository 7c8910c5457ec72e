# SPDX-License-Identifier: EUPL-1.2
"""Checks that ask GitHub as the App: credentials, clock, webhook settings and deliveries,
installations and their repositories, and each repository's configuration."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from githubkit import AppAuthStrategy, GitHub
from githubkit.exception import GitHubException, RequestFailed
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.config.loader import load_default, parse_config_text, validate_layers
from bot.doctor import Check, fail, first_line, ok, skip
from bot.forge.names import CONFIG_PATH, org_config_repo, org_file_name, repo_file_name
from bot.github.client import GitHubAPI
from bot.settings import Settings
from bot.storage.models import Repository

MAX_SKEW_SECONDS = 30  # GitHub refuses a JWT issued "in the future"; githubkit backdates 60 s
CREDENTIALS_FIX = (
    "check VEILLEUR_APP_ID and the private key (App settings → Private keys: generate a new "
    "one if it was lost or revoked)"
)
WEBHOOK_PATH = "/webhooks/github"
CONFIG_FETCHES_AT_ONCE = 8  # many repositories: a few requests in flight, not hundreds


def app_client(settings: Settings) -> GitHub[AppAuthStrategy]:
    """No automatic retries: a diagnosis reports the first answer instead of waiting."""
    assert settings.app_id is not None
    return GitHub(
        AppAuthStrategy(str(settings.app_id), settings.private_key_pem()),
        base_url=settings.github_api_url.rstrip("/") + "/",
        timeout=settings.github_timeout_seconds,
        auto_retry=False,
        http_cache=False,
        user_agent="veilleur-doctor",
    )


def check_clock(headers: Mapping[str, str] | None, now: datetime) -> Check:
    date = headers.get("date") if headers is not None else None
    if not date:
        return skip("clock", "GitHub's Date header was not received")
    skew = (now - parsedate_to_datetime(date)).total_seconds()
    if abs(skew) > MAX_SKEW_SECONDS:
        way = "ahead of" if skew > 0 else "behind"
        return fail(
            "clock",
            f"this machine is {abs(skew):.0f} s {way} GitHub: the App's tokens are refused",
            "synchronise the clock (systemd-timesyncd, chrony or ntpd)",
        )
    return ok("clock", f"in sync with GitHub ({skew:+.0f} s)")


async def check_app(gh: GitHub[Any], now: datetime) -> tuple[list[Check], dict[str, Any] | None]:
    """GET /app: the credentials, and GitHub's Date header for the clock."""
    try:
        resp = await gh.arequest("GET", "/app")
    except RequestFailed as exc:
        detail = f"GitHub answered {exc.response.status_code} to GET /app"
        return [
            fail("App credentials", detail, CREDENTIALS_FIX),
            check_clock(exc.response.headers, now),
        ], None
    except (GitHubException, httpx.HTTPError) as exc:
        detail = f"{gh.config.base_url} unreachable: {first_line(exc)}"
        fix = "check VEILLEUR_GITHUB_API_URL and this machine's access to it (proxy, firewall)"
        return [fail("App credentials", detail, fix), skip("clock", "GitHub unreachable")], None
    app: dict[str, Any] = resp.json()
    owner = (app.get("owner") or {}).get("login", "?")
    detail = f"accepted: App {app.get('slug')!r} (id {app.get('id')}) of {owner}"
    return [ok("App credentials", detail), check_clock(resp.headers, now)], app


async def check_hook_config(gh: GitHub[Any], settings: Settings) -> list[Check]:
    try:
        config = (await gh.arequest("GET", "/app/hook/config")).json()
    except RequestFailed as exc:
        fix = "turn the webhook on in the App's settings (Active) with a URL"
        return [fail("webhook URL", f"no webhook ({exc.response.status_code})", fix)]
    url = str(config.get("url") or "")
    expected = f"{settings.public_url.rstrip('/')}{WEBHOOK_PATH}" if settings.public_url else None
    url_fix = f"set the App's webhook URL to {expected or f'https://<your host>{WEBHOOK_PATH}'}"
    checks = []
    if not url:
        checks.append(fail("webhook URL", "not set", url_fix))
    elif expected and url.rstrip("/") != expected:
        checks.append(fail("webhook URL", f"{url}, not {expected} (VEILLEUR_PUBLIC_URL)", url_fix))
    elif not url.rstrip("/").endswith(WEBHOOK_PATH):
        checks.append(fail("webhook URL", f"{url} does not end with {WEBHOOK_PATH}", url_fix))
    elif str(config.get("insecure_ssl", "0")) != "0":
        fix = "serve Veilleur with a valid certificate and turn SSL verification back on"
        checks.append(fail("webhook URL", f"{url}, with SSL verification off", fix))
    else:
        checks.append(ok("webhook URL", url))
    if config.get("content_type") != "json":
        fix = "set the webhook's content type to application/json in the App's settings"
        checks.append(fail("webhook content type", str(config.get("content_type")), fix))
    else:
        checks.append(ok("webhook content type", "json"))
    if not config.get("secret"):
        fix = "set a webhook secret in the App's settings, the same in VEILLEUR_WEBHOOK_SECRET"
        checks.append(fail("webhook secret", "none set: webhooks cannot be verified", fix))
    else:
        checks.append(ok("webhook secret", "set (GitHub does not show it)"))
    return checks


def _why(code: int) -> str:
    if code == 401:
        return "signature refused: VEILLEUR_WEBHOOK_SECRET differs from the App's secret"
    if code == 413:
        return "body too large: raise the reverse proxy's limit (client_max_body_size 25m)"
    if code == 0 or code >= 500:
        return "Veilleur unreachable or failing: check `veilleur serve`, the proxy and TLS"
    return "unexpected answer"


async def check_deliveries(gh: GitHub[Any]) -> Check:
    """The newest attempt per delivery among the last 100, as GitHub saw them."""
    resp = await gh.arequest("GET", "/app/hook/deliveries", params={"per_page": 100})
    newest: dict[str, dict[str, Any]] = {}
    for d in resp.json():  # newest first
        newest.setdefault(str(d.get("guid")), d)
    if not newest:
        return skip("webhook deliveries", "none yet")
    failed = [d for d in newest.values() if not 200 <= int(d.get("status_code") or 0) < 300]
    if not failed:
        return ok("webhook deliveries", f"the last {len(newest)} were accepted")
    codes = Counter(int(d.get("status_code") or 0) for d in failed)
    detail = f"{len(failed)} of the last {len(newest)} failed: " + ", ".join(
        f"{code or 'no answer'} ×{n}" for code, n in codes.most_common()
    )
    fix = "; ".join(dict.fromkeys(_why(code) for code in codes))
    return fail("webhook deliveries", detail, fix + " (missed deliveries are asked for again)")


async def _installation_repos(gh: GitHub[AppAuthStrategy], inst_id: int) -> list[dict[str, Any]]:
    auth = gh.auth
    assert isinstance(auth, AppAuthStrategy)
    as_inst = gh.with_auth(auth.as_installation(inst_id))
    repos: list[dict[str, Any]] = []
    page = 1
    while True:
        params = {"per_page": 100, "page": page}
        body = (await as_inst.arequest("GET", "/installation/repositories", params=params)).json()
        repos += body.get("repositories") or []
        if not body.get("repositories") or len(repos) >= int(body.get("total_count") or 0):
            return repos
        page += 1


def known_repositories(engine: Engine, inst_id: int) -> set[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(Repository.full_name).where(
                Repository.installation_id == inst_id, col(Repository.removed_at).is_(None)
            )
        ).all()
    return {name.lower() for name in rows}


async def check_installations(
    gh: GitHub[AppAuthStrategy], engine: Engine | None, app: dict[str, Any]
) -> tuple[list[Check], dict[int, list[dict[str, Any]]]]:
    """One line per installation: its repositories and whether Veilleur knows them."""
    installs = (await gh.arequest("GET", "/app/installations", params={"per_page": 100})).json()
    if not installs:
        link = f"{str(app.get('html_url', '')).rstrip('/')}/installations/new"
        return [fail("installations", "the App is installed nowhere", f"install it: {link}")], {}
    checks, found = [], {}
    for inst in installs:
        name = f"installation {inst['id']} ({inst['account']['login']})"
        if inst.get("suspended_at"):
            fix = "unsuspend it in the organisation's settings (GitHub Apps)"
            checks.append(fail(name, "suspended: Veilleur can do nothing there", fix))
            continue
        repos = found[inst["id"]] = await _installation_repos(gh, inst["id"])
        if engine is None:
            checks.append(skip(name, f"{len(repos)} repositories (database not checked)"))
            continue
        known = known_repositories(engine, inst["id"])
        unknown = sorted(r["full_name"] for r in repos if r["full_name"].lower() not in known)
        if unknown:
            listed = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
            checks.append(
                fail(
                    name,
                    f"{len(unknown)} of {len(repos)} repositories unknown to Veilleur: {listed}",
                    "Veilleur learns repositories from installation events: redeliver the "
                    "latest `installation` event (App settings → Advanced), then check again",
                )
            )
        else:
            checks.append(ok(name, f"{len(repos)} repositories, all known to Veilleur"))
    return checks, found


async def check_configs(
    gh: GitHub[AppAuthStrategy], installs: dict[int, list[dict[str, Any]]]
) -> Check:
    """Each repository's `.github/veilleur.yml` merged over its organisation's, validated."""
    default = load_default()
    bad: list[str] = []
    total = 0
    limit = asyncio.Semaphore(CONFIG_FETCHES_AT_ONCE)

    async def fetch(api: GitHubAPI, repo: str) -> str | None:
        async with limit:
            return await api.get_file(repo, CONFIG_PATH)

    for inst_id, repos in installs.items():
        api = GitHubAPI(gh, inst_id)
        names = [r["full_name"] for r in repos]
        owners = sorted({name.split("/", 1)[0] for name in names})
        texts = await asyncio.gather(*(fetch(api, org_config_repo(o)) for o in owners))
        org_layers = {
            o: _layer(t, org_file_name(o), bad) for o, t in zip(owners, texts, strict=True)
        }
        repo_texts = await asyncio.gather(*(fetch(api, name) for name in names))
        for full, text in zip(names, repo_texts, strict=True):
            repo_layer = _layer(text, f"{full}/{repo_file_name(full)}", bad)
            total += 1
            org_layer = org_layers[full.split("/", 1)[0]]
            _, errors = validate_layers(default, org_layer, repo_layer)
            bad += [str(e) for e in errors]
    if bad:
        unique = list(dict.fromkeys(bad))
        return fail(
            "repository configuration",
            f"{len(unique)} error(s): " + "; ".join(unique[:3]) + (" …" if len(unique) > 3 else ""),
            "fix the file (`veilleur config check FILE` shows its errors); meanwhile Veilleur "
            "keeps the last valid configuration",
        )
    return ok("repository configuration", f"valid in all {total} repositories")


def _layer(text: str | None, name: str, bad: list[str]) -> tuple[dict[str, Any], str] | None:
    if text is None:
        return None
    data, errors = parse_config_text(text, name)
    bad += [str(e) for e in errors]
    return (data, name) if not errors else None
