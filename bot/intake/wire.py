"""What the web process and the writer process say to each other over their socket.

Standard library only (`struct`, `json`): the writer process imports this, and nothing that
would load the app's stack (bot/intake/writer_main.py).

web -> writer: a request is a header (request id, meta length, payload length, received_at in
microseconds since the epoch, UTC), then the meta (a JSON list) and the payload as received.
writer -> web: the length of a JSON list of [request id, outcome, error], then that list.
"""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime, timedelta

from bot.intake.rows import DeliveryRow

REQUEST = struct.Struct("!QIIq")
ANSWER = struct.Struct("!I")
READY = b"R"
URL_ENV = "VEILLEUR_INTAKE_WRITER_DATABASE_URL"
LOG_ENV = "VEILLEUR_INTAKE_WRITER_LOG"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# ASCII out (any text, lone surrogates included, survives as escapes); no spaces.
_dumps = json.JSONEncoder(separators=(",", ":")).encode

Answer = tuple[int, str | None, str | None]  # request id, outcome, error


def encode_request(request_id: int, row: DeliveryRow) -> tuple[bytes, bytes, bytes]:
    meta = _dumps(
        [row.guid, row.event, row.action, row.installation_id, row.repo_full_name,
         row.item_number]
    ).encode("ascii")  # fmt: skip
    micros = (row.received_at - _EPOCH) // _MICROSECOND
    return REQUEST.pack(request_id, len(meta), len(row.payload), micros), meta, row.payload


def decode_requests(buf: bytearray) -> tuple[list[tuple[int, DeliveryRow]], int]:
    """The complete requests at the start of `buf`, and how many bytes they took."""
    out: list[tuple[int, DeliveryRow]] = []
    pos, size = 0, REQUEST.size
    while len(buf) - pos >= size:
        request_id, meta_len, payload_len, micros = REQUEST.unpack_from(buf, pos)
        start, end = pos + size, pos + size + meta_len + payload_len
        if len(buf) < end:
            break
        guid, event, action, inst, repo, number = json.loads(buf[start : start + meta_len])
        received = _EPOCH + micros * _MICROSECOND
        payload = bytes(buf[start + meta_len : end])
        out.append(
            (request_id, DeliveryRow(guid, event, action, inst, repo, number, received, payload))
        )
        pos = end
    return out, pos


def readable(exc: BaseException) -> str:
    """An error as text that is valid UTF-8 whatever it quotes (a path, a driver's message)."""
    text = f"{type(exc).__name__}: {exc}"
    return text.encode("utf-8", "replace").decode("utf-8")


def encode_answers(answers: list[Answer]) -> bytes:
    body = _dumps(answers).encode("ascii")
    return ANSWER.pack(len(body)) + body


def decode_answers(buf: bytearray) -> list[Answer]:
    """The complete answers at the start of `buf`, removed from it."""
    out: list[Answer] = []
    while len(buf) >= ANSWER.size:
        (length,) = ANSWER.unpack_from(buf)
        if len(buf) < ANSWER.size + length:
            break
        out.extend((i, o, e) for i, o, e in json.loads(buf[ANSWER.size : ANSWER.size + length]))
        del buf[: ANSWER.size + length]
    return out
