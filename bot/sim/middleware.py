"""The ASGI layer around every forge request: injected faults, GitHub's rate-limit headers,
and the request log (`forge.requests`) the tests inspect and validate."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.sim.faults import Fault

if TYPE_CHECKING:
    from bot.sim.forge import Forge, RecordedRequest

STATIC_HEADERS = {
    "x-github-api-version-selected": "2022-11-28",
    "x-github-media-type": "github.v3; format=json",
}


def _resource(path: str) -> str:
    if path.startswith("/search/"):
        return "search"
    return "graphql" if path == "/graphql" else "core"


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


class _Capture:
    """Wraps `send`: adds headers (made from the status) to the response start and keeps a
    copy of the body."""

    def __init__(self, send: Send, headers: Callable[[int], dict[str, str]]) -> None:
        self._send = send
        self._headers = headers
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            headers += [
                (k.encode(), v.encode())
                for k, v in self._headers(message["status"]).items()
                if k.encode() not in present
            ]
            message = {**message, "headers": headers}
            self.status = message["status"]
            self.headers = {k.decode().lower(): v.decode() for k, v in headers}
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
        await self._send(message)


async def _reset_connection(receive: Receive, send: Send) -> None:
    """Abort the TCP connection (uvicorn's request cycle exposes its transport); otherwise
    promise a body and close early, which clients also see as a broken connection."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is not None:
        transport.abort()
        await asyncio.sleep(0)  # let uvicorn notice the disconnect before we return
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
    )
    await send({"type": "http.response.body", "body": b"{", "more_body": False})


def _route_of(scope: Scope) -> BaseRoute | None:
    """The route a request would have reached (faulted requests never reach the router)."""
    from bot.sim.app import forge_routes  # app.py imports this module

    for route in forge_routes():
        if route.matches(scope)[0] == Match.FULL:
            return route
    return None


class ForgeMiddleware:
    def __init__(self, app: ASGIApp, forge: Forge) -> None:
        self.app = app
        self.forge = forge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        request_body = bytearray()

        async def recv() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request_body.extend(message.get("body", b""))
            return message

        fault = self.forge.faults.take(method, path)
        arrival = self.forge.new_id()

        def headers(status: int) -> dict[str, str]:
            # GitHub does not count a 304 (a conditional request's answer) against the limit
            rate = self.forge.rate_headers(_resource(path), count=status != 304)
            return rate | STATIC_HEADERS | {"x-github-request-id": f"SIMF:{arrival:X}"}

        capture = _Capture(send, headers)
        try:
            if fault is not None and fault.delay:
                await asyncio.sleep(fault.delay)
            if fault is not None and fault.reset_connection:
                await _reset_connection(receive, send)
            elif fault is not None and fault.status:
                await self._fail(fault, scope, recv, capture)
            else:
                await self.app(scope, recv, capture.send)
        except Exception:
            capture.status = capture.status or 500  # a forge bug: still logged, then re-raised
            raise
        finally:
            self._record(scope, bytes(request_body), capture, fault, arrival)

    async def _fail(self, fault: Fault, scope: Scope, receive: Receive, capture: _Capture) -> None:
        token = ""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                token = value.decode().partition(" ")[2]
        inst = self.forge.token_installation(token)
        status, headers, body = fault.response(inst.id if inst else None)
        await JSONResponse(body, status_code=status, headers=headers)(scope, receive, capture.send)

    def _record(
        self,
        scope: Scope,
        request_body: bytes,
        capture: _Capture,
        fault: Fault | None,
        arrival: int,
    ) -> None:
        from bot.sim.forge import RecordedRequest

        route = scope.get("route") or _route_of(scope)
        entry: RecordedRequest = RecordedRequest(
            method=scope["method"],
            template=getattr(route, "path_format", None),
            path=scope["path"],
            query=scope.get("query_string", b"").decode(),
            status=capture.status,
            request_json=_json(request_body),
            response_json=_json(bytes(capture.body)),
            response_headers=capture.headers,
            fault=fault is not None,
            arrival=arrival,
        )
        self.forge.record(entry)
