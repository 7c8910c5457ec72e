"""The dashboard's pages, found from the app's own routes (so a page added later is visited by
the translation and browser tests without editing them).

A page is a GET route of a `bot.web` module that answers HTML; path parameters are filled from
the values the caller gives, and a parameter nobody gave a value for fails loudly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from fastapi.routing import APIRoute

_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def _walk(routes: Any, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # FastAPI >= 0.16x keeps included routers
            context = getattr(route, "include_context", None)
            inner = prefix + (getattr(context, "prefix", "") or "")
            yield from _walk(route.original_router.routes, inner)
        elif hasattr(route, "routes"):
            yield from _walk(route.routes, prefix + (getattr(route, "path", "") or ""))


def web_get_routes(app: Any) -> list[str]:
    """Path templates of every GET route that `bot.web` serves, in declaration order."""
    seen: dict[str, None] = {}
    for path, route in _walk(app.router.routes):
        if "GET" in (route.methods or set()) and route.endpoint.__module__.startswith("bot.web"):
            seen.setdefault(path, None)
    return list(seen)


def fill(path: str, values: Mapping[str, str]) -> str:
    missing = [name for name in _PARAM.findall(path) if name not in values]
    assert not missing, (
        f"{path}: no sample value for {missing}; add one to the test's PARAMS so this page is "
        "checked"
    )
    return _PARAM.sub(lambda m: values[m.group(1)], path)


def candidate_paths(app: Any, values: Mapping[str, str]) -> list[str]:
    """Every `bot.web` GET route with its parameters filled; callers keep those answering HTML."""
    return [fill(path, values) for path in web_get_routes(app)]


def is_page(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip() == "text/html"


def route_of(app: Any, path: str) -> str | None:
    """The `bot.web` GET route template `path` answers to (None: not one of them)."""
    from starlette.routing import compile_path

    for template in web_get_routes(app):
        regex, _, _ = compile_path(template)
        if regex.match(path):
            return template
    return None
