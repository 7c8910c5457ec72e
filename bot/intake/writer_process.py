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

This module is the web process's side; the writer process runs bot/intake/writer_main.py,
which imports neither this module nor the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import cast

from bot import heap
from bot.intake import wire
from bot.intake.rows import DeliveryRow, Stored

log = logging.getLogger(__name__)

RESTART_PAUSE_SECONDS = 1.0  # after a failed restart, requests get 503 at once for this long


class WriterUnavailable(RuntimeError):
    """The writer process is gone or could not store: the request is answered 503."""


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
        for request_id, outcome, error in wire.decode_answers(self._buf):
            fut = self.waiting.pop(request_id, None)
            if fut is None or fut.done():
                continue
            if error is None:
                fut.set_result(cast(str, outcome))
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
            env = {**os.environ, wire.URL_ENV: self.database_url, wire.LOG_ENV: self.log_spec}
            cmd = [sys.executable, *heap.interpreter_flags(), "-m", "bot.intake.writer_main"]
            cmd.append(str(theirs.fileno()))
            # our own interpreter and module; the URL goes by environment, not the command line
            self.process = subprocess.Popen(cmd, pass_fds=[theirs.fileno()], env=env)  # noqa: S603
        finally:
            theirs.close()
        ours.settimeout(60)
        try:
            ready = ours.recv(1) == wire.READY
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
        link.send(wire.encode_request(self._next_id, row))
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
