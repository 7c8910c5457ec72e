"""GitHub's GraphQL answers told in Veilleur's terms, so that callers (the history import)
need not know githubkit's exceptions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from githubkit.exception import GraphQLFailed, RateLimitExceeded

Json = dict[str, Any]


class GraphQLRateLimited(Exception):
    """GitHub refused the query for its rate limit; `headers` (lower-cased) say until when."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__("GraphQL rate limit")
        self.headers = {k.lower(): v for k, v in headers.items()}


class GraphQLErrors(Exception):
    """An answer with errors; `data` is the partial data beside them (None: none)."""

    def __init__(self, message: str, data: Json | None, errors: list[Json]) -> None:
        super().__init__(message)
        self.data = data
        self.errors = errors


async def query(api: Any, text: str, variables: Json) -> Json:
    """`api.graphql`, raising `GraphQLRateLimited` or `GraphQLErrors` instead of githubkit's."""
    try:
        data: Json = await api.graphql(text, variables)
    except RateLimitExceeded as exc:
        raise GraphQLRateLimited(exc.response.headers) from exc
    except GraphQLFailed as exc:
        errors = [e.model_dump() for e in exc.response.errors or []]
        raise GraphQLErrors(str(exc), exc.response.data, errors) from exc
    return data
