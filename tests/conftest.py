"""Shared fixtures: databases (SQLite and PostgreSQL), settings, webhook signing, payloads."""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from bot.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
# The test material beside the worktree; VEILLEUR_TEST_SHARED points elsewhere (the suite's own
# test of what happens when it is missing uses that).
SHARED_ROOT = Path(os.environ.get("VEILLEUR_TEST_SHARED") or REPO_ROOT.parent / "shared")
SHARED = SHARED_ROOT / "github"
WEBHOOK_EXAMPLES = SHARED / "webhook-examples"
PG_URL = os.environ.get("VEILLEUR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET = "test-webhook-secret"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(reason: str) -> NoReturn:
    """Material a test needs is absent: skipped on a developer's machine, a failure in CI, where
    a skipped test would hide that nothing was checked."""
    if in_ci():
        pytest.fail(f"{reason} (required when CI=true)", pytrace=False)
    pytest.skip(reason)


def need(path: Path) -> Path:
    """`path` (test material under ../shared), or skip/fail as `missing` says."""
    if not path.exists():
        missing(f"{path} is missing")
    return path


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=2):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_available() -> bool:
    ok = _pg_available()
    if not ok and os.environ.get("CI"):
        pytest.fail("PostgreSQL on 127.0.0.1:5432 is required in CI")
    return ok


def _pg_schema_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'veilleur.db'}"


@pytest.fixture
def pg_url(pg_available: bool) -> Iterator[str]:
    if not pg_available:
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    raw = PG_URL.replace("+psycopg", "")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield _pg_schema_url(schema)
    finally:
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run the test on both backends."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def migrated(db_url: str) -> str:
    from bot.storage.migrate import upgrade

    upgrade(db_url)
    return db_url


def make_settings(db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db_url,
        "webhook_secret": SECRET,
        "retry_base_seconds": 0.01,
        "log_format": "text",
    }
    values.update(overrides)
    return load_settings(**values)


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_headers(
    event: str, body: bytes, guid: str | None = None, secret: str = SECRET
) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": guid or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret),
        "Content-Type": "application/json",
    }


def example_payloads() -> list[tuple[str, str, Path]]:
    """(event, file stem, path) for every real payload file (at collection: none in CI fails)."""
    if in_ci():
        need(WEBHOOK_EXAMPLES)
    out = []
    for path in sorted(WEBHOOK_EXAMPLES.glob("*/*.json")):
        out.append((path.parent.name, path.name.removesuffix(".payload.json"), path))
    return out


from tests.demo_run import demo_run  # noqa: E402, F401
from tests.forge_sites import site  # noqa: E402, F401
from tests.gitlab_fixtures import gitlab_server, gitlab_world  # noqa: E402, F401
from tests.harness import city, harness, harness_factory  # noqa: E402, F401
from tests.simforge_fixtures import (  # noqa: E402, F401
    app_keypair,
    forge,
    forge_clock,
    forge_server,
    forge_settings,
    webhook_sink,
)
from tests.smtp_fixtures import smtp  # noqa: E402, F401


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the slow checks a collected test will read (tests/background.py)."""
    from tests import background

    if session.config.option.collectonly:
        return
    for item in session.items:
        name = background.READERS.get(item.nodeid)
        if name is not None:
            background.start(name)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests import background

    background.stop_all()


@pytest.fixture(autouse=True, scope="session")
def _one_default_tls_context() -> Iterator[None]:
    """httpx builds a TLS context for every client it makes, loading the CA bundle each time
    (20-40 ms on the 2-core machine): the tests' own requests, sign-ins and `veilleur doctor`
    make thousands of clients in this process. They share the default one instead (same CA
    bundle, same checks); any other `verify`/`cert` is built as before."""
    import ssl

    from httpx._transports import default as transports

    real = transports.create_ssl_context
    made: dict[tuple[object, ...], ssl.SSLContext] = {}

    def create_ssl_context(
        verify: object = True, cert: object = None, trust_env: bool = True
    ) -> ssl.SSLContext:
        if verify is not True or cert is not None:
            return real(verify=verify, cert=cert, trust_env=trust_env)
        env = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        key = (trust_env, *(env if trust_env else (None, None)))
        if key not in made:
            made[key] = real(verify=True, cert=None, trust_env=trust_env)
        return made[key]

    transports.create_ssl_context = create_ssl_context
    yield
    transports.create_ssl_context = real


@pytest.fixture(autouse=True)
def _earlier_objects_frozen() -> Iterator[None]:
    """What earlier tests left (modules, caches: ~200-600k objects by the end of the session)
    is out of the collector's sight while a test runs, as a served process's startup heap is.
    Each app's lifespan collects the whole heap before freezing it (bot/app.py), and it
    walked all of that every time: ~0.4 s an app, ~100 s a session. Anything a test makes is
    collected as usual; the app unfreezes everything when it stops, and so does the end of
    the test."""
    import gc

    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A test that runs the CLI's `main()` configures logging for the whole process (root
    handlers and levels, quieter third-party loggers): put it back for the next test."""
    import logging

    from bot.logs import NOISY_LOGGERS

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in levels.items():
        logging.getLogger(name).setLevel(was)
