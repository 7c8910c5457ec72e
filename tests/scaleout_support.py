"""Helpers for the scale-out, fault and benchmark runs: fresh PostgreSQL schemas, `veilleur`
subprocesses, signed webhook replay, and a TCP proxy that can cut the database off."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bot.queue.scaleout.queue import conninfo
from bot.sim import Forge
from bot.sim.delivery import Delivery

PG_RAW = os.environ.get("VEILLEUR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
VEILLEUR = str(Path(sys.executable).with_name("veilleur"))


@contextlib.contextmanager
def fresh_schema(prefix: str = "so") -> Iterator[str]:
    """A new PostgreSQL schema, as a SQLAlchemy URL whose search_path is that schema."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    raw = PG_RAW.replace("+psycopg", "")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_RAW}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def veilleur_env(forge: Forge, api_url: str, db_url: str, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEILLEUR_")}
    env.update(
        VEILLEUR_APP_ID=str(forge.the_app.id),
        VEILLEUR_PRIVATE_KEY=forge.private_key_pem,
        VEILLEUR_GITHUB_API_URL=api_url,
        VEILLEUR_WEBHOOK_SECRET=forge.webhook_secret,
        VEILLEUR_DATABASE_URL=db_url,
        VEILLEUR_RETRY_BASE_SECONDS="0.2",
        VEILLEUR_MAX_ATTEMPTS="12",
        VEILLEUR_LOG_LEVEL="WARNING",
        VEILLEUR_LOG_FORMAT="json",
        VEILLEUR_GITHUB_TIMEOUT_SECONDS="5",
        VEILLEUR_WRITE_SPACING_SECONDS="0",
    )
    env.update({f"VEILLEUR_{k.upper()}": str(v) for k, v in extra.items()})
    return env


class Procs:
    """`veilleur` subprocesses, their logs in `logdir`; all stopped at exit."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        out = (self.logdir / f"{name}.log").open("wb")
        proc = subprocess.Popen(  # noqa: S603
            [VEILLEUR, *args], env=self.env, cwd=self.logdir, stdout=out, stderr=subprocess.STDOUT
        )
        self.procs[name] = proc
        return proc

    def web(self, name: str, port: int) -> str:
        self.start(name, "serve", "--no-worker", "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ready(url), 60, f"{name} did not become ready", self, name)
        return url

    def worker(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self.start(name, "worker", "--name", name, *args)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def log(self, name: str) -> str:
        return (self.logdir / f"{name}.log").read_text(errors="replace")

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU time of each live process (Linux /proc)."""
        tick = os.sysconf("SC_CLK_TCK")
        out: dict[str, float] = {}
        for name, proc in self.procs.items():
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[name] = round((int(fields[11]) + int(fields[12])) / tick, 2)
        return out

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None and proc.returncode not in (-signal.SIGKILL,):
                raise RuntimeError(f"{name} exited {proc.returncode}:\n{self.log(name)[-3000:]}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    message: str,
    procs: Procs | None = None,
    name: str | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if procs is not None:
            procs.check_alive()
        time.sleep(0.1)
    detail = f"\n{procs.log(name)[-3000:]}" if procs is not None and name else ""
    raise TimeoutError(message + detail)


def headers_for(d: Delivery, secret: str) -> dict[str, str]:
    mac = hmac.new(secret.encode(), d.body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": d.event,
        "X-GitHub-Delivery": d.guid,
        "X-Hub-Signature-256": f"sha256={mac}",
    }


def replay(
    chains: Sequence[Sequence[Delivery]], urls: Sequence[str], secret: str, threads: int = 8
) -> dict[int, int]:
    """POST each chain's deliveries in order (chains side by side over `threads` senders, each
    with keep-alive connections), round-robin over `urls`; the same delivery repeated in a row
    is sent that many times *at once* to different replicas (a race at intake). Returns the
    count of each HTTP status; 5xx and refused connections are sent again, as GitHub would."""
    import queue
    from concurrent.futures import ThreadPoolExecutor

    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    todo: queue.SimpleQueue[Sequence[Delivery]] = queue.SimpleQueue()
    for chain in chains:
        todo.put(chain)
    extra = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="replay-dup")

    def post(client: httpx.Client, d: Delivery, turn: int) -> None:
        for attempt in range(50):
            url = urls[(turn + attempt) % len(urls)] + "/webhooks/github"
            try:
                code = client.post(url, content=d.body, headers=headers_for(d, secret)).status_code
            except httpx.HTTPError:
                code = 0
            with lock:
                statuses[code] += 1
            if 200 <= code < 300:
                return
            time.sleep(0.2)

    def sender(k: int) -> None:
        turn = k
        with httpx.Client(timeout=30) as client, httpx.Client(timeout=30) as second:
            while True:
                try:
                    chain = todo.get_nowait()
                except queue.Empty:
                    return
                i = 0
                while i < len(chain):
                    same = 1
                    while i + same < len(chain) and chain[i + same] is chain[i]:
                        same += 1
                    turn += 1
                    d = chain[i]
                    others = [extra.submit(post, second, d, turn + j) for j in range(1, same)]
                    post(client, d, turn)
                    for f in others:
                        f.result()
                    i += same

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="replay") as pool:
        for f in [pool.submit(sender, k) for k in range(threads)]:
            f.result()
    extra.shutdown()
    return dict(statuses)


class Replay(threading.Thread):
    """`replay` in a background thread: `.statuses` when done, `.seconds` it took."""

    def __init__(self, chains: Sequence[Sequence[Delivery]], urls: Sequence[str], secret: str):
        super().__init__(daemon=True, name="replay")
        self.args = (chains, urls, secret)
        self.statuses: dict[int, int] = {}
        self.seconds = 0.0
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        started = time.monotonic()
        try:
            self.statuses = replay(*self.args)
        except BaseException as exc:  # reported by result()
            self.error = exc
        self.seconds = time.monotonic() - started

    def result(self, timeout: float = 300) -> dict[int, int]:
        self.join(timeout)
        if self.is_alive():
            raise TimeoutError("webhook replay did not finish")
        if self.error is not None:
            raise self.error
        return self.statuses


class TcpProxy:
    """A loopback TCP proxy to `target` that can be cut (every connection dropped, new ones
    refused at once) and restored, to take a database away from a running process."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.restore()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2)

    def cut(self) -> None:
        self._call(self._cut())

    def restore(self) -> None:
        if self._server is None:
            self._call(self._start())

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


def q(url: str, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(conninfo(url)) as conn:
        return list(conn.execute(sql, params).fetchall())  # type: ignore[arg-type]


def status_counts(url: str) -> dict[str, int]:
    rows = q(url, "SELECT status, count(*) FROM deliveries GROUP BY 1")
    return {str(status): int(n) for status, n in rows}
