"""What commonly stops a command at its start, said in one sentence that names the setting.

The README promises an operator one sentence, not a traceback, when a setting is wrong: the
database cannot be reached or holds no tables, or the port is taken. Anything else stays a
traceback: it is a bug to report, not a setting to fix.
"""

from __future__ import annotations

import errno
import re
import socket

from bot.settings import SettingsError

PORT_RANGE = (1, 65535)


def port_number(value: str) -> int:
    """argparse type of `--port`: a TCP port (uvicorn would otherwise wrap 70000 to 4464)."""
    return _port(value, low=PORT_RANGE[0])


def port_or_zero(value: str) -> int:
    """argparse type of the demo's `--port`: 0 lets the system pick a free port."""
    return _port(value, low=0)


def _port(value: str, *, low: int) -> int:
    import argparse

    try:
        port = int(value)
    except ValueError:
        port = -1
    if not low <= port <= PORT_RANGE[1]:
        raise argparse.ArgumentTypeError(f"{value} is not a port ({low} to {PORT_RANGE[1]})")
    return port


def bind(host: str, port: int, *, how_to_change: str) -> socket.socket:
    """A listening socket on host:port, or SettingsError saying the port is taken or refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SettingsError(
                f"Port {port} on {host} is already in use: stop what uses it or choose another "
                f"port with {how_to_change}."
            ) from None
        raise SettingsError(
            f"Cannot listen on {host}:{port} ({exc.strerror}): choose another address or port "
            f"with {how_to_change}."
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def database_problem(exc: BaseException, url: str) -> str | None:
    """One sentence for a database that cannot be used as configured; None for anything else."""
    from sqlalchemy.engine import make_url

    shown = make_url(url).render_as_string(hide_password=True)
    text = str(getattr(exc, "orig", None) or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    lowered = text.lower()
    setting = "VEILLEUR_DATABASE_URL (or --database-url)"
    if "no such table" in lowered or re.search(r'relation "[^"]+" does not exist', lowered):
        return (
            f"The database {shown} holds no Veilleur tables: run `veilleur db upgrade` on it, or "
            f"point {setting} at Veilleur's database."
        )
    if "unable to open database file" in lowered:
        return (
            f"The SQLite database {shown} cannot be opened (does its directory exist, and may "
            f"Veilleur write there?): check {setting}."
        )
    match = re.search(r'database "([^"]+)" does not exist', text)
    if match:
        return (
            f'The PostgreSQL database "{match.group(1)}" does not exist on the server of {shown}: '
            f"create it (createdb {match.group(1)}) or correct {setting}."
        )
    if "connection" in lowered and any(
        s in lowered for s in ("refused", "failed", "timeout", "timed out", "could not")
    ):
        return f"Cannot connect to the database {shown} ({first}): check {setting}."
    if "password authentication failed" in lowered or "authentication failed" in lowered:
        return f"The database {shown} refused the login ({first}): check {setting}."
    return None
