"""The writer process itself: read requests, commit them in groups, answer each group.

It only appends rows, so it imports only what that takes: the standard library, `sqlite3` and
`lz4` (bot/intake/wire.py, bot/intake/sqlite_writer.py), never the app (SQLAlchemy, SQLModel,
pydantic: ~40 MB for a second interpreter; bench/memory.py). PostgreSQL, where the writer runs
in a process only when asked, keeps SQLAlchemy's `GroupWriter`. The schema is upgraded before
this process starts (bot/storage/upgrade_apart.py), so it never migrates.

    python -m bot.intake.writer_main <fd>    (started by ProcessWriter, not by hand)
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import sys
from typing import Protocol

from bot.intake import wire
from bot.intake.rows import MAX_GROUP, DeliveryRow

_CHUNK = 1 << 20


class Writer(Protocol):
    def write_or_fail(self, rows: list[DeliveryRow]) -> list[str | Exception]: ...
    def close(self) -> None: ...


def open_writer(url: str) -> Writer:
    """Plain sqlite3 for a SQLite file; SQLAlchemy's `GroupWriter` for PostgreSQL. Fails when
    it cannot read."""
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
    """Read requests until the web process closes its end; commit and answer each group."""
    buf = bytearray()
    while True:
        chunk = sock.recv(_CHUNK)
        if not chunk:
            return  # the web process closed its end
        buf += chunk
        with contextlib.suppress(BlockingIOError):  # and whatever else is already waiting
            while more := sock.recv(_CHUNK, socket.MSG_DONTWAIT):
                buf += more
        requests, used = wire.decode_requests(buf)
        del buf[:used]
        for first in range(0, len(requests), MAX_GROUP):
            part = requests[first : first + MAX_GROUP]
            outcomes = group.write_or_fail([row for _, row in part])
            answers: list[wire.Answer] = [
                (rid, None, wire.readable(o)) if isinstance(o, Exception) else (rid, o, None)
                for (rid, _), o in zip(part, outcomes, strict=True)
            ]
            sock.sendall(wire.encode_answers(answers))


def main(argv: list[str] | None = None) -> int:
    from bot import logs

    args = sys.argv[1:] if argv is None else argv
    # Ctrl-C or a service manager's SIGTERM reach the whole process group: the web process
    # shuts down gracefully and closes the socket, and that, not the signal, ends this one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    level, fmt = os.environ.get(wire.LOG_ENV, "INFO:json").split(":")
    logs.configure(level, fmt)
    sock = socket.socket(fileno=int(args[0]))
    group = open_writer(os.environ[wire.URL_ENV])  # a database it cannot open fails the start
    # Its heap is its imports: keep the collector from walking them under load.
    gc.collect()
    gc.freeze()
    try:
        sock.sendall(wire.READY)
        serve(sock, group)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the web process went away: nothing is waiting for an answer
    finally:
        group.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
