"""The writer process: its wire format, its lifetimes, and what a request sees when it dies."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from bot.app import create_app, use_writer_process
from bot.intake import writer_main
from bot.intake.wire import decode_answers, decode_requests, encode_request
from bot.intake.writer import DeliveryRow, Stored
from bot.intake.writer_process import ProcessWriter, WriterUnavailable
from bot.settings import SettingsError
from bot.storage import payloads
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade
from bot.storage.models import Delivery
from tests.conftest import make_settings, webhook_headers

T0 = datetime(2026, 11, 23, 9, 30, 0, 123456, tzinfo=UTC)

rows = st.builds(
    DeliveryRow,
    guid=st.uuids().map(str),
    event=st.sampled_from(["issues", "pull_request", "issue_comment"]),
    action=st.none() | st.text(max_size=20),
    installation_id=st.none() | st.integers(0, 2**53),
    repo_full_name=st.none() | st.text(max_size=40),
    item_number=st.none() | st.integers(0, 2**31),
    received_at=st.integers(0, 10**9).map(lambda us: T0 + timedelta(microseconds=us)),
    payload=st.binary(max_size=3000),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(rows, max_size=8), st.lists(st.integers(1, 5000), max_size=6))
def test_requests_survive_any_split_of_the_stream(
    batch: list[DeliveryRow], cuts: list[int]
) -> None:
    """The socket delivers bytes as it likes: a request cut anywhere waits for its rest."""
    stream = b"".join(b"".join(encode_request(i, row)) for i, row in enumerate(batch))
    buf, got, start = bytearray(), [], 0
    for cut in [*sorted(c % (len(stream) + 1) for c in cuts), len(stream)]:
        buf += stream[start:cut]
        start = cut
        decoded, used = decode_requests(buf)
        del buf[:used]
        got.extend(decoded)
    assert buf == b""
    assert got == list(enumerate(batch))


def _post(client: TestClient, body: bytes = b'{"action": "opened"}') -> int:
    return client.post(
        "/webhooks/github", content=body, headers=webhook_headers("issues", body)
    ).status_code


def _guids(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return set(s.exec(select(Delivery.guid)).all())
    finally:
        engine.dispose()


def test_auto_picks_a_process_for_a_sqlite_file_and_a_thread_otherwise(sqlite_url: str) -> None:
    hook: Any = lambda conn, rows: None  # noqa: E731
    pg = "postgresql+psycopg://u@h/db"
    assert use_writer_process(make_settings(sqlite_url), None)
    assert not use_writer_process(make_settings(sqlite_url), hook)  # scale-out replica
    assert not use_writer_process(make_settings(pg), None)
    assert not use_writer_process(make_settings(sqlite_url, intake_writer="thread"), None)
    assert use_writer_process(make_settings(pg, intake_writer="process"), None)
    with pytest.raises(SettingsError, match="VEILLEUR_INTAKE_WRITER"):
        use_writer_process(make_settings(pg, intake_writer="process"), hook)
    with pytest.raises(SettingsError, match="VEILLEUR_INTAKE_WRITER"):
        use_writer_process(make_settings("sqlite://", intake_writer="process"), None)


def test_a_dead_writer_fails_the_waiting_request_and_the_next_one_starts_another(
    sqlite_url: str,
) -> None:
    with TestClient(create_app(make_settings(sqlite_url), run_worker=False)) as client:
        writer = client.app.state.writer  # type: ignore[attr-defined]
        assert isinstance(writer, ProcessWriter)
        assert _post(client) == 202
        first = writer.process
        assert first is not None
        # Stopped, it holds the next request unread; killed, it never answers it.
        os.kill(first.pid, signal.SIGSTOP)
        answer: list[int] = []
        waiting = threading.Thread(target=lambda: answer.append(_post(client)))
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive() and answer == []  # a 202 only once committed
        first.kill()
        waiting.join(10)
        assert answer == [503]
        assert _post(client) == 202  # a new writer process
        assert writer.process is not None and writer.process.pid != first.pid
    assert len(_guids(sqlite_url)) == 2  # the two 202s, not the 503


async def test_every_request_sent_before_stop_is_answered_and_stored(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    fresh: list[int] = []
    writer = ProcessWriter(sqlite_url, on_stored=lambda: fresh.append(1))
    await writer.start()
    batch = [
        DeliveryRow(str(uuid.uuid4()), "issues", "opened", 1, "ville/site", i, T0, b'{"n": %d}' % i)
        for i in range(300)
    ]
    pending = [asyncio.ensure_future(writer.store(row)) for row in batch]
    await asyncio.sleep(0)  # every request is on the wire
    await writer.stop()
    assert [await p for p in pending] == [Stored.NEW] * 300
    assert fresh  # the embedded worker was woken
    assert _guids(sqlite_url) == {row.guid for row in batch}
    engine = make_engine(sqlite_url)
    with Session(engine) as s:
        first = s.get(Delivery, batch[0].guid)
        assert first is not None and payloads.unpack(first.payload) == b'{"n": 0}'
        assert first.received_at == T0 and first.item_number == 0
        seqs = [s.get(Delivery, row.guid).seq for row in batch]  # type: ignore[union-attr]
    engine.dispose()
    assert seqs == sorted(seqs)  # order of receipt


async def test_the_writer_goes_when_the_web_process_goes(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    writer = ProcessWriter(sqlite_url)
    await writer.start()
    process = writer.process
    assert process is not None and process.poll() is None
    assert writer._link is not None and writer._link.transport is not None
    writer._link.transport.abort()  # as if the web process had been killed
    assert await asyncio.to_thread(process.wait, 10) == 0


async def test_a_writer_that_cannot_open_its_database_fails_the_start(tmp_path: Any) -> None:
    writer = ProcessWriter(f"sqlite:///{tmp_path / 'missing' / 'veilleur.db'}")
    with pytest.raises(WriterUnavailable, match="did not start"):
        await writer.start()
    assert writer.process is None


async def test_the_writer_outlives_signals_meant_for_its_process_group(sqlite_url: str) -> None:
    """Ctrl-C or SIGTERM to the group: the web process shuts down and closes the socket."""
    upgrade(sqlite_url)
    writer = ProcessWriter(sqlite_url)
    await writer.start()
    process = writer.process
    assert process is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        os.kill(process.pid, sig)
    # No sleep: a pending signal is acted on before the writer reads its next request, so once
    # this answer is back the signals have done whatever they would do. A writer they killed
    # would be respawned by `store` (a new process id) or fail the request.
    row = DeliveryRow(str(uuid.uuid4()), "issues", "opened", None, None, None, T0, b"{}")
    assert await asyncio.wait_for(writer.store(row), 10) == Stored.NEW
    assert writer.process is process and process.poll() is None
    await writer.stop()
    assert process.returncode == 0


async def test_a_writer_that_cannot_restart_is_not_respawned_for_every_request(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "db").mkdir()
    url = f"sqlite:///{tmp_path / 'db' / 'veilleur.db'}"
    upgrade(url)
    writer = ProcessWriter(url)
    await writer.start()
    assert writer.process is not None and writer._link is not None
    writer.process.kill()
    await asyncio.wait_for(writer._link.closed, 10)
    (tmp_path / "db").rename(tmp_path / "moved")  # the database cannot be opened any more

    def row() -> DeliveryRow:
        return DeliveryRow(str(uuid.uuid4()), "issues", None, None, None, None, T0, b"{}")

    with pytest.raises(WriterUnavailable, match="did not start"):
        await writer.store(row())
    spawns: list[object] = []
    monkeypatch.setattr(writer, "_spawn", lambda: spawns.append(1))
    with pytest.raises(WriterUnavailable, match="failed to restart"):
        await writer.store(row())
    assert spawns == []  # refused at once, no new process
    monkeypatch.undo()
    (tmp_path / "moved").rename(tmp_path / "db")
    writer._no_restart_before = 0.0  # the pause is over
    assert await writer.store(row()) == Stored.NEW
    await writer.stop()


def test_the_writer_answers_an_error_as_valid_utf8_whatever_it_quotes() -> None:
    """A driver's message may quote a path read with surrogate escapes: not valid UTF-8."""

    class Failing:
        def write_or_fail(self, rows: list[DeliveryRow]) -> list[str | Exception]:
            return [OSError(f"cannot open /srv/caf{chr(0xDCE9)}/veilleur.db") for _ in rows]

        def close(self) -> None:
            pass

    ours, theirs = socket.socketpair()
    serving = threading.Thread(target=writer_main.serve, args=(theirs, Failing()))
    serving.start()
    row = DeliveryRow(str(uuid.uuid4()), "issues", None, None, None, None, T0, b"{}")
    ours.sendall(b"".join(encode_request(7, row)))
    buf = bytearray()
    while not (answers := decode_answers(buf)):
        buf += ours.recv(1000)
    ours.close()
    serving.join(10)
    theirs.close()
    [(request_id, outcome, error)] = answers
    assert (request_id, outcome) == (7, None)
    assert error is not None and error.startswith("OSError: cannot open /srv/caf")
    error.encode("utf-8")  # would raise on a lone surrogate
