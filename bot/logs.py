"""Logging: JSON lines carrying the delivery GUID and installation; secrets are never logged."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_delivery: ContextVar[str | None] = ContextVar("delivery", default=None)
_installation: ContextVar[int | None] = ContextVar("installation", default=None)

# Linear on any text (log lines may quote outside text): a JWT is only looked for at the start
# of a run of its characters, and a private key's end is searched for once per key.
_SECRETS = re.compile(
    r"(gh[pousr]_[A-Za-z0-9]{8,}|(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+"
    r"\.[A-Za-z0-9_-]+|(?i:(?:token|bearer)\s+)[A-Za-z0-9_.-]{12,})"
)
_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_KEY_END = re.compile(r"-----END [A-Z ]*PRIVATE KEY-----")


def redact(text: str) -> str:
    """Tokens and private keys replaced by `[redacted]`; a key without its end, to the end."""
    out: list[str] = []
    pos = 0
    while (begin := _KEY_BEGIN.search(text, pos)) is not None:
        out.append(_SECRETS.sub("[redacted]", text[pos : begin.start()]) + "[redacted]")
        end = _KEY_END.search(text, begin.end())
        if end is None:
            return "".join(out)
        pos = end.end()
    out.append(_SECRETS.sub("[redacted]", text[pos:]))
    return "".join(out)


@contextmanager
def delivery_context(guid: str | None, installation: int | None) -> Iterator[None]:
    t1, t2 = _delivery.set(guid), _installation.set(installation)
    try:
        yield
    finally:
        _delivery.reset(t1)
        _installation.reset(t2)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
            "delivery": _delivery.get(),
            "installation": _installation.get(),
        }
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = f"{record.levelname:<7} {record.name}: {redact(record.getMessage())}"
        if _delivery.get():
            base += f" [delivery={_delivery.get()} installation={_installation.get()}]"
        return base


NOISY_LOGGERS = ("httpx", "httpcore", "apscheduler.executors", "uvicorn.access")


def configure(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
