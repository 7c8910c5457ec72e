"""Serving over real HTTP: uvicorn in a background thread on 127.0.0.1.

`ThreadedServer` serves any ASGI app (the bot itself in end-to-end tests, a webhook sink);
`ForgeServer` serves a forge and points the forge's own links at itself.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Any, Literal

import uvicorn

from bot.sim.forge import Forge


class _Server(uvicorn.Server):
    """uvicorn's server, whose main loop also wakes when `wake()` is called from another thread
    (uvicorn's own looks at `should_exit` every 0.1 s: half of that, on average, added to
    every stop; a test session stops hundreds of servers)."""

    _loop: asyncio.AbstractEventLoop | None = None
    _wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            try:  # the same ticks as uvicorn's (date header, limits), cut short by wake()
                await asyncio.wait_for(self._wake.wait(), 0.1)
            except TimeoutError:
                pass
            should_exit = await self.on_tick(counter)

    def wake(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop closed meanwhile: nothing left to wake
                pass


class ThreadedServer:
    """Binds a free port at construction (so `.url` is known at once); `start()` returns when
    uvicorn accepts connections (typically well under a second)."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Literal["auto", "on", "off"] = "off",
    ) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan=lifespan,  # "on" to serve Veilleur itself (worker, scheduler)
            timeout_graceful_shutdown=1,
        )
        self._server = _Server(config)
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> ThreadedServer:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True,
            name=f"uvicorn-{self.port}",
        )  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.should_exit = True
            self._server.wake()
            self._thread.join(timeout=10)
            self._thread = None
        self._socket.close()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ForgeServer(ThreadedServer):
    """The forge's REST API at `.url`; sets `forge.api_url` to it so links in bodies resolve."""

    def __init__(self, forge: Forge, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(forge.asgi_app(), host=host, port=port)
        self.forge = forge

    def start(self, timeout: float = 10.0) -> ForgeServer:
        self.forge.api_url = self.url
        super().start(timeout)
        return self

    def __enter__(self) -> ForgeServer:
        return self.start()
