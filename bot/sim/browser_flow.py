"""What the simulated forges' browser flows share (GitHub's OAuth web flow and App manifest
pages, GitLab's OAuth provider): each flow's state, one per forge or instance, made on first
use and dropped with it; the sign-in or confirmation form that carries the request's fields;
the redirect back with `code` (or `error`) and `state` added to the query."""

from __future__ import annotations

import html
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

T = TypeVar("T")


class PerForge(Generic[T]):
    """One `T` per simulated forge (or GitLab instance), made by `make` on first use."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._found: weakref.WeakKeyDictionary[Any, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, forge: Any) -> T:
        with self._lock:
            found = self._found.get(forge)
            if found is None:
                found = self._found[forge] = self._make()
            return found


def hidden_inputs(fields: Mapping[str, str]) -> str:
    """A form's hidden inputs, so that submitting it repeats the request with these fields."""
    return "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )


def with_query(url: str, **params: str) -> str:
    """`url` with `params` added to its query (the redirect back to the client)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
