"""Building blocks of the forge's GraphQL schema: field definitions, the type registry,
connections with opaque cursors, and actors.

A type is a dict of `FieldDef`s in `OBJECTS`; interfaces and unions are in `ABSTRACT` (their
possible types) with their shared fields in `OBJECTS` too. Resolvers take (ctx, parent value,
arguments) and return records, lists, `Typed` values (for abstract types) or scalars.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.sim.models import Installation, Issue, Repo, User

SCALARS = frozenset(
    {"String", "Int", "Float", "Boolean", "ID", "DateTime", "URI", "GitObjectID", "HTML"}
)
PAGING = frozenset({"first", "after", "last", "before"})


@dataclass
class Ctx:
    forge: Any  # the Forge (typed loosely: forge.py imports the app lazily)
    inst: Installation
    variables: dict[str, Any]
    rate: dict[str, Any]
    errors: list[dict[str, Any]] = field(default_factory=list)


Resolver = Callable[[Ctx, Any, dict[str, Any]], Any]


@dataclass(frozen=True)
class FieldDef:
    type: str  # the named type of the value (or of each element of a list)
    fn: Resolver
    args: frozenset[str] = frozenset()
    connection: bool = False


@dataclass(frozen=True)
class Typed:
    """A value of an interface or union, with its concrete type."""

    type: str
    value: Any


class Unresolved(Exception):
    """A resolution error: the field becomes null and the answer carries the error."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


OBJECTS: dict[str, dict[str, FieldDef]] = {}
ABSTRACT: dict[str, frozenset[str]] = {}


def field_def(type_name: str, name: str) -> FieldDef | None:
    return OBJECTS.get(type_name, {}).get(name)


def is_type(name: str) -> bool:
    return name in OBJECTS or name in ABSTRACT


def attr(name: str, type_name: str = "String") -> FieldDef:
    return FieldDef(type_name, lambda _c, v, _a: getattr(v, name))


def plain(fn: Callable[[Any], Any], type_name: str = "String") -> FieldDef:
    return FieldDef(type_name, lambda _c, v, _a: fn(v))


def define(name: str, fields: dict[str, FieldDef], possible: Sequence[str] = ()) -> None:
    OBJECTS[name] = fields
    if possible:
        ABSTRACT[name] = frozenset(possible)


# -- connections -------------------------------------------------------------------------------
@dataclass
class Conn:
    nodes: list[Any]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    total: int
    edge_extra: list[dict[str, Any]] | None = None


@dataclass
class _Edge:
    node: Any
    cursor: str
    extra: dict[str, Any]


def cursor(parts: Sequence[Any]) -> str:
    return base64.b64encode(("cursor:v2:" + json.dumps(list(parts))).encode()).decode()


def _uncursor(value: str) -> list[Any]:
    try:
        text = base64.b64decode(value.encode()).decode()
        parts = json.loads(text.removeprefix("cursor:v2:"))
    except (ValueError, UnicodeDecodeError):
        parts = None
    if not isinstance(parts, list):
        raise Unresolved(
            "INVALID_CURSOR_ARGUMENTS", f"`{value}` does not appear to be a valid cursor."
        )
    return parts


def paginate(
    items: Sequence[Any],
    args: dict[str, Any],
    key: Callable[[Any], Sequence[Any]] | None = None,
    *,
    descending: bool = False,
    extra: Callable[[Any], dict[str, Any]] | None = None,
) -> Conn:
    """`first`/`after` over `items` (already in order). With `key`, cursors carry the sort key
    (items that moved since stay consistent, as on GitHub); without, the position."""
    keyed = [list(key(x)) if key else [i] for i, x in enumerate(items)]
    start = 0
    after = args.get("after")
    if after:
        mark = _uncursor(str(after))
        if key is None:
            start = int(mark[0]) + 1 if mark and isinstance(mark[0], int) else 0
        else:
            beyond = (lambda k: k < mark) if descending else (lambda k: k > mark)
            start = next((i for i, k in enumerate(keyed) if beyond(k)), len(items))
    if args.get("last") is not None and args.get("first") is None:
        raise Unresolved("ARGUMENT_ERROR", "simforge paginates with `first` only")
    count = int(args.get("first") or 0)
    chosen = list(range(start, min(start + count, len(items))))
    return Conn(
        nodes=[items[i] for i in chosen],
        cursors=[cursor(keyed[i]) for i in chosen],
        has_next=start + count < len(items),
        has_previous=start > 0,
        total=len(items),
        edge_extra=[extra(items[i]) for i in chosen] if extra else None,
    )


def _edges(conn: Conn) -> list[_Edge]:
    extras = conn.edge_extra or [{} for _ in conn.nodes]
    return [_Edge(n, c, e) for n, c, e in zip(conn.nodes, conn.cursors, extras, strict=True)]


def _page_info(conn: Conn) -> dict[str, Any]:
    return {
        "hasNextPage": conn.has_next,
        "hasPreviousPage": conn.has_previous,
        "startCursor": conn.cursors[0] if conn.cursors else None,
        "endCursor": conn.cursors[-1] if conn.cursors else None,
    }


def connection_type(name: str, node: str, edge_fields: dict[str, FieldDef] | None = None) -> str:
    """Register `<name>Connection` and `<name>Edge` whose nodes are of type `node`."""
    edge = {
        "node": FieldDef(node, lambda _c, e, _a: e.node),
        "cursor": FieldDef("String", lambda _c, e, _a: e.cursor),
    }
    for extra_name, extra in (edge_fields or {}).items():
        edge[extra_name] = extra
    define(f"{name}Edge", edge)
    define(
        f"{name}Connection",
        {
            "nodes": FieldDef(node, lambda _c, conn, _a: conn.nodes),
            "edges": FieldDef(f"{name}Edge", lambda _c, conn, _a: _edges(conn)),
            "pageInfo": FieldDef("PageInfo", lambda _c, conn, _a: _page_info(conn)),
            "totalCount": FieldDef("Int", lambda _c, conn, _a: conn.total),
        },
    )
    return f"{name}Connection"


def edge_extra(name: str, type_name: str = "String") -> FieldDef:
    return FieldDef(type_name, lambda _c, e, _a: e.extra.get(name))


def conn_field(name: str, fn: Resolver, more_args: Sequence[str] = ()) -> FieldDef:
    return FieldDef(name, fn, PAGING | frozenset(more_args), connection=True)


def key_of(name: str, type_name: str) -> FieldDef:
    """A field read from a dict value."""
    return FieldDef(type_name, lambda _c, v, _a: v[name])


def define_page_info() -> None:
    """Register `PageInfo` (called by `graphql_schema.build_schema`)."""
    names = ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor")
    define(
        "PageInfo", {k: key_of(k, "Boolean" if k.startswith("has") else "String") for k in names}
    )


# -- actors ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemRef:
    """An issue or pull request with its repository (fields need both)."""

    repo: Repo
    issue: Issue


def graphql_login(user: User) -> str:
    """GraphQL names a Bot without the `[bot]` suffix REST gives it."""
    return user.login.removesuffix("[bot]") if user.type == "Bot" else user.login


def actor(ctx: Ctx, login: str | None) -> Typed | None:
    """An `Actor` (User, Bot or Organization); None for a deleted account (GitHub's ghost)."""
    if not login:
        return None
    user = ctx.forge.users.get(login.lower())
    if user is None:
        return None
    if user.type == "Organization":
        return Typed("Organization", ctx.forge.orgs.get(login.lower()) or user)
    return Typed(user.type, user)


def repo_visible(ctx: Ctx, repo: Repo | None) -> bool:
    return repo is not None and (not repo.private or ctx.forge.covers(ctx.inst, repo))


def iso_of(value: Any) -> str | None:
    from bot.sim.shapes import iso

    return iso(value)
