"""What an operator meets at a command's start: one sentence naming the setting, never a traceback.

Each case runs the CLI's `main()` in-process, as `veilleur …` would.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.app import create_app
from bot.cli import main
from bot.intake.refusals import RefusalLog
from bot.sim import AppKeyPair
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade
from bot.storage.models import Installation
from tests.conftest import PG_URL, make_settings, webhook_headers

ENV = ("APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "WEBHOOK_SECRET", "DATABASE_URL", "PORT")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV:
        monkeypatch.delenv(f"VEILLEUR_{name}", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env file


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """`serve` configures the root logger on the stream of its test; later tests get it back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def as_app(monkeypatch: pytest.MonkeyPatch, app_keypair: AppKeyPair) -> None:
    monkeypatch.setenv("VEILLEUR_APP_ID", "1")
    monkeypatch.setenv("VEILLEUR_PRIVATE_KEY", app_keypair.private_pem)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        yield int(taken.getsockname()[1])


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def one_sentence(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the command; it must fail with exit status 2 and end with one sentence (log lines
    of what ran before may precede it), never a traceback."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith("veilleur: ") and last.endswith(".")
    return last


def test_both_private_key_settings_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, app_keypair: AppKeyPair
) -> None:
    monkeypatch.setenv("VEILLEUR_PRIVATE_KEY", app_keypair.private_pem)
    monkeypatch.setenv("VEILLEUR_PRIVATE_KEY_PATH", "/etc/veilleur.pem")
    err = one_sentence(capsys, ["deliveries"])
    assert "VEILLEUR_?" not in err
    assert "VEILLEUR_PRIVATE_KEY and VEILLEUR_PRIVATE_KEY_PATH are both set" in err


@pytest.mark.parametrize("command", [["serve"], ["demo", "--no-serve"]])
def test_port_out_of_range_is_refused(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--port", "70000"])
    assert exit_.value.code == 2
    assert "70000 is not a port" in capsys.readouterr().err


def test_serve_on_a_busy_port(
    capsys: pytest.CaptureFixture[str], busy_port: int, sqlite_url: str, as_app: None
) -> None:
    err = one_sentence(capsys, ["--database-url", sqlite_url, "serve", "--port", str(busy_port)])
    assert f"Port {busy_port} on 127.0.0.1 is already in use" in err and "--port" in err


def test_demo_on_a_busy_port(capsys: pytest.CaptureFixture[str], busy_port: int) -> None:
    err = one_sentence(capsys, ["demo", "--fast", "--no-serve", "--port", str(busy_port)])
    assert f"Port {busy_port} on 127.0.0.1 is already in use" in err and "--port" in err
    assert not Path("veilleur-demo.db").exists()  # stopped before anything was done


def test_deliveries_without_tables(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    err = one_sentence(capsys, ["--database-url", url, "deliveries"])
    assert "holds no Veilleur tables" in err and "veilleur db upgrade" in err
    assert "VEILLEUR_DATABASE_URL" in err


def test_serve_with_an_unopenable_sqlite_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, as_app: None
) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'veilleur.db'}"
    err = one_sentence(capsys, ["--database-url", url, "serve", "--port", free_port()])
    assert "cannot be opened" in err and "VEILLEUR_DATABASE_URL" in err


def test_serve_with_postgresql_unreachable(
    capsys: pytest.CaptureFixture[str], as_app: None
) -> None:
    url = "postgresql://postgres@127.0.0.1:1/test"  # nothing listens on port 1
    err = one_sentence(capsys, ["--database-url", url, "serve", "--port", free_port()])
    assert "Cannot connect to the database" in err and "VEILLEUR_DATABASE_URL" in err


def test_serve_with_a_missing_postgresql_database(
    capsys: pytest.CaptureFixture[str], pg_available: bool, as_app: None
) -> None:
    if not pg_available:
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432")
    url = PG_URL.rsplit("/", 1)[0] + "/veilleur_no_such_database"
    err = one_sentence(capsys, ["--database-url", url, "serve", "--port", free_port()])
    assert 'database "veilleur_no_such_database" does not exist' in err
    assert "VEILLEUR_DATABASE_URL" in err


def test_digest_of_an_unknown_org(capsys: pytest.CaptureFixture[str], sqlite_url: str) -> None:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    with Session(engine) as s:
        s.add(Installation(id=7, account_login="paris"))
        s.commit()
    engine.dispose()
    err = one_sentence(capsys, ["--database-url", sqlite_url, "digest", "--org", "nope"])
    assert "no organisation 'nope'" in err and "paris" in err
    week = ["--week", "2026-W27", "--at", "2026-07-20T09:00:00+02:00"]
    assert main(["--database-url", sqlite_url, "digest", "--org", "paris", *week]) == 0
    assert "paris" in capsys.readouterr().out


# -- no webhook secret -----------------------------------------------------------------------


def test_no_webhook_secret_warns_refuses_loudly_and_is_not_ready(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(sqlite_url, webhook_secret="")
    app = create_app(settings, run_worker=False)
    body = b'{"zen": "x"}'
    with caplog.at_level(logging.WARNING), TestClient(app) as client:
        ready = client.get("/readyz")
        answers = [
            client.post("/webhooks/github", content=body, headers=webhook_headers("ping", body))
            for _ in range(3)
        ]
    assert ready.status_code == 503 and "VEILLEUR_WEBHOOK_SECRET" in ready.text
    assert [a.status_code for a in answers] == [401] * 3
    messages = [r.getMessage() for r in caplog.records]
    assert any("VEILLEUR_WEBHOOK_SECRET is empty" in m and "/readyz" in m for m in messages)
    refused = [m for m in messages if m.startswith("webhook refused")]
    assert len(refused) == 1 and "VEILLEUR_WEBHOOK_SECRET is empty" in refused[0]


def test_with_a_secret_the_app_is_ready(sqlite_url: str) -> None:
    with TestClient(create_app(make_settings(sqlite_url), run_worker=False)) as client:
        assert client.get("/readyz").status_code == 200


def test_refusals_are_logged_once_a_minute_with_their_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    refusals = RefusalLog(every=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        logged = [refusals.refused("bad signature", secret_set=True) for _ in range(100)]
        now[0] = 59.0
        logged.append(refusals.refused("bad signature", secret_set=True))
        now[0] = 60.5
        logged.append(refusals.refused("bad signature", secret_set=True))
    assert logged == [True] + [False] * 100 + [True]
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "webhook refused (1 since the last report): bad signature",
        "webhook refused (101 since the last report): bad signature",
    ]


@pytest.mark.parametrize(
    ("argv", "port"),
    [
        (["demo", "--fast", "--no-serve"], 0),  # the simulation needs no known port
        (["demo", "--fast"], 8000),  # the dashboard is served: the documented default
        (["demo", "--no-serve", "--port", "8123"], 8123),
    ],
)
def test_demo_port(monkeypatch: pytest.MonkeyPatch, argv: list[str], port: int) -> None:
    import bot.sim.demo.runner

    seen: list[int] = []
    monkeypatch.setattr(bot.sim.demo.runner, "run_demo", lambda opts: seen.append(opts.port))
    assert main(argv) == 0 and seen == [port]


def test_remind_dry_run_works_without_the_app(
    capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    """The dry run decides from the record alone and says what it could not know."""
    assert main(["--database-url", sqlite_url, "remind", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("offline: configuration as last recorded")
    assert out[-1].startswith("0 action(s)") and out[-1].endswith("(dry-run)")


def test_remind_for_real_still_needs_the_app(
    capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    err = one_sentence(capsys, ["--database-url", sqlite_url, "remind"])
    assert "VEILLEUR_APP_ID" in err
