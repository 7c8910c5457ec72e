"""The intake's writer in a process of its own: the default with a SQLite file.

Why a process: a writer thread shares the GIL with the event loop. Under load a group commit
then took 3.2 ms, of which 1.2 ms was CPU; most of the rest was waiting for the GIL after
each SQLite call (bench/README). Here the web process sends each verified delivery over a
socketpair, the writer process commits groups with the same `GroupWriter` (everything that
arrived during the previous commit), and answers each request with its outcome. A 202 still
means the row is committed.

Lifetimes: the writer process ends when its socket closes, so it never outlives the web
process. If it dies, the requests waiting for it get 503 (GitHub records the failure; the
recovery job asks for a redelivery) and the next request starts a new one.

    python -m bot.intake.writer_process <fd>    (started by ProcessWriter, not by hand)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, cast

import orjson

from bot.intake.rows import MAX_GROUP, DeliveryRow, Stored

log = logging.getLogger(__name__)

# web -> writer: request id, meta length, payload length, received_at (us since the epoch, UTC),
# then the meta (an orjson list) and the payload.
_REQUEST = struct.Struct("!QIIq")
# writer -> web: the length of an orjson list of [request id, outcome, error].
_ANSWER = struct.Struct("!I")
_READY = b"R"
_URL_ENV = "VEILLEUR_INTAKE_WRITER_DATABASE_URL"
_LOG_ENV = "VEILLEUR_INTAKE_WRITER_LOG"
_CHUNK = 1 << 20
RESTART_PAUSE_SECONDS = 1.0  # after a failed restart, requests get 503 at once for this long
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class WriterUnavailable(RuntimeError):
    """The writer process is gone or could not store: the request is answered 503."""


def encode_request(request_id: int, row: DeliveryRow) -> tuple[bytes, bytes, bytes]:
    meta = orjson.dumps(
        [row.guid, row.event, row.action, row.installation_id, row.repo_full_name,
         row.item_number]
    )  # fmt: skip
    micros = (row.received_at - _EPOCH) // _MICROSECOND
    return _REQUEST.pack(request_id, len(meta), len(row.payload), micros), meta, row.payload


def decode_requests(buf: bytearray) -> tuple[list[tuple[int, DeliveryRow]], int]:
    """The complete requests at the start of `buf`, and how many bytes they took."""
    out: list[tuple[int, DeliveryRow]] = []
    pos, size = 0, _REQUEST.size
    while len(buf) - pos >= size:
        request_id, meta_len, payload_len, micros = _REQUEST.unpack_from(buf, pos)
        start, end = pos + size, pos + size + meta_len + payload_len
        if len(buf) < end:
            break
        guid, event, action, inst, repo, number = orjson.loads(buf[start : start + meta_len])
        received = _EPOCH + micros * _MICROSECOND
        payload = bytes(buf[start + meta_len : end])
        out.append(
            (request_id, DeliveryRow(guid, event, action, inst, repo, number, received, payload))
        )
        pos = end
    return out, pos


class Writer(Protocol):
    def write_or_fail(self, rows: list[DeliveryRow]) -> list[str | Exception]: ...
    def close(self) -> None: ...


def open_writer(url: str) -> Writer:
    """Plain sqlite3 for a SQLite file (this process then never imports SQLAlchemy, SQLModel
    or pydantic); SQLAlchemy's `GroupWriter` for PostgreSQL. Fails when it cannot read."""
    if url.startswith("sqlite:///"):
        from bot.intake.sqlite_writer import SqliteGroupWriter

        writer = SqliteGroupWriter(url.removeprefix("sqlite:///").split("?", 1)[0])
        writer.check()
        return writer
    from bot.intake.writer import GroupWriter

    group = GroupWriter.for_url(url)
    with group.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    return group


def serve(sock: socket.socket, group: Writer) -> None:
    """The writer process's loop: read requests, commit them in groups, answer each group."""
    buf = bytearray()
    while True:
        chunk = sock.recv(_CHUNK)
        if not chunk:
            return  # the web process closed its end
        buf += chunk
        with contextlib.suppress(BlockingIOError):  # and whatever else is already waiting
            while more := sock.recv(_CHUNK, socket.MSG_DONTWAIT):
                buf += more
        requests, used = decode_requests(buf)
        del buf[:used]
        for first in range(0, len(requests), MAX_GROUP):
            part = requests[first : first + MAX_GROUP]
            outcomes = group.write_or_fail([row for _, row in part])
            answers = [
                [rid, None, f"{type(o).__name__}: {o}"]
                if isinstance(o, Exception)
                else [rid, o, None]
                for (rid, _), o in zip(part, outcomes, strict=True)
            ]
            body = orjson.dumps(answers)
            sock.sendall(_ANSWER.pack(len(body)) + body)


def main(argv: list[str] | None = None) -> int:
    from bot import logs

    args = sys.argv[1:] if argv is None else argv
    # Ctrl-C or a service manager's SIGTERM reach the whole process group: the web process
    # shuts down gracefully and closes the socket, and that, not the signal, ends this one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    level, fmt = os.environ.get(_LOG_ENV, "INFO:json").split(":")
    logs.configure(level, fmt)
    sock = socket.socket(fileno=int(args[0]))
    group = open_writer(os.environ[_URL_ENV])  # a database it cannot open fails the start
    # Its heap is its imports: keep the collector from walking them under load.
    gc.collect()
    gc.freeze()
    try:
        sock.sendall(_READY)
        serve(sock, group)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the web process went away: nothing is waiting for an answer
    finally:
        group.close()
    return 0


class _Link(asyncio.Protocol):
    """The web process's end of the socket: sends requests, resolves futures from answers."""

    def __init__(self, on_stored: Callable[[], None] | None) -> None:
        self.on_stored = on_stored
        self.waiting: dict[int, asyncio.Future[str]] = {}
        self.transport: asyncio.WriteTransport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self._buf = bytearray()
        self._outbox: list[bytes] = []

    def send(self, parts: tuple[bytes, ...]) -> None:
        """Queue a request: what one turn of the event loop queues goes out in one write."""
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self.flush)
        self._outbox.extend(parts)

    def flush(self) -> None:
        out, self._outbox = self._outbox, []
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.writelines(out)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._buf += data
        fresh = False
        while len(self._buf) >= _ANSWER.size:
            (length,) = _ANSWER.unpack_from(self._buf)
            if len(self._buf) < _ANSWER.size + length:
                break
            answers = orjson.loads(self._buf[_ANSWER.size : _ANSWER.size + length])
            del self._buf[: _ANSWER.size + length]
            for request_id, outcome, error in answers:
                fut = self.waiting.pop(request_id, None)
                if fut is None or fut.done():
                    continue
                if error is None:
                    fut.set_result(outcome)
                    fresh = fresh or outcome in Stored.FRESH
                else:
                    fut.set_exception(WriterUnavailable(error))
        if fresh and self.on_stored:
            self.on_stored()

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in self.waiting.values():
            if not fut.done():
                fut.set_exception(WriterUnavailable("the intake writer process exited"))
        self.waiting.clear()
        if not self.closed.done():
            self.closed.set_result(None)


class ProcessWriter:
    """Starts the writer process and talks to it from the event loop it was started on."""

    def __init__(
        self, database_url: str, on_stored: Callable[[], None] | None = None, log_spec: str = ""
    ) -> None:
        self.database_url = database_url
        self.on_stored = on_stored
        self.log_spec = log_spec or "INFO:json"
        self.process: subprocess.Popen[bytes] | None = None
        self._link: _Link | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()
        self._next_id = 0
        self._no_restart_before = 0.0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        sock = await asyncio.to_thread(self._spawn)
        _, self._link = await self._loop.create_unix_connection(
            lambda: _Link(self.on_stored), sock=sock
        )

    def _spawn(self) -> socket.socket:
        """Start the writer process; our end of its socket once it says it is ready."""
        ours, theirs = socket.socketpair()
        try:
            env = {**os.environ, _URL_ENV: self.database_url, _LOG_ENV: self.log_spec}
            cmd = [sys.executable, "-m", "bot.intake.writer_process", str(theirs.fileno())]
            # our own interpreter and module; the URL goes by environment, not the command line
            self.process = subprocess.Popen(cmd, pass_fds=[theirs.fileno()], env=env)  # noqa: S603
        finally:
            theirs.close()
        ours.settimeout(60)
        try:
            ready = ours.recv(1) == _READY
        except OSError:
            ready = False
        if not ready:
            ours.close()
            raise WriterUnavailable(
                f"the intake writer process did not start (exit {self._reap()})"
            )
        ours.setblocking(False)
        return ours

    async def stop(self) -> None:
        link, self._link = self._link, None
        if link and link.transport and not link.transport.is_closing():
            link.flush()
            link.transport.write_eof()  # the writer answers what it holds, then exits
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(link.closed), 10)
            link.transport.close()
        if self.process:
            await asyncio.to_thread(self._reap)

    async def store(self, row: DeliveryRow) -> str:
        if asyncio.get_running_loop() is not self._loop:
            raise RuntimeError("ProcessWriter.store() runs on the loop that started it")
        link = self._link
        if link is None or link.closed.done():
            link = await self._restart()
        self._next_id += 1
        fut: asyncio.Future[str] = self._loop.create_future()
        link.waiting[self._next_id] = fut
        link.send(encode_request(self._next_id, row))
        return await fut

    async def _restart(self) -> _Link:
        async with self._lock:
            if self._link is None or self._link.closed.done():
                if time.monotonic() < self._no_restart_before:  # not one spawn per request
                    raise WriterUnavailable("the intake writer process failed to restart")
                log.error("the intake writer process exited; starting a new one")
                if self._link and self._link.transport:
                    self._link.transport.close()
                self._link = None
                await asyncio.to_thread(self._reap)
                try:
                    await self.start()
                except WriterUnavailable:
                    self._no_restart_before = time.monotonic() + RESTART_PAUSE_SECONDS
                    raise
            assert self._link is not None
            return self._link

    def _reap(self) -> int | None:
        proc, self.process = self.process, None
        if proc is None:
            return None
        try:
            return proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
