"""The simulated GitLab's GraphQL endpoint (`POST /api/graphql`): the part of GitLab's schema
the history import reads (a project's issues and merge requests by iid, with their notes),
scored by graphql-ruby's complexity rule and refused above GitLab's limit (250 authenticated),
as GitLab does.

Complexity (graphql-ruby `Schema::Field#calculate_complexity`, every field 1): a plain field is
1 plus its selections; a connection is 1 plus its metadata (`nodes`/`edges` 1 each, any other
selection such as `pageInfo` 1 plus its selection count) plus the page size (`first`, `last`,
else 100) times what is selected on each node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.sim.gitlab.world import GitLabWorld, Json, Project
from bot.sim.graphql_lang import (
    Field,
    GraphQLSyntaxError,
    parse,
    resolve_value,
)

MAX_COMPLEXITY = 250  # authenticated (GitLab's docs: 200 without a token)
MAX_PAGE = 100
MAX_QUERY_CHARS = 10_000
NOTE_FILTERS = {"ALL_NOTES", "ONLY_COMMENTS", "ONLY_ACTIVITY"}


class QueryError(Exception):
    def __init__(self, message: str, node: Field | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node

    def as_json(self) -> Json:
        out: Json = {"message": self.message}
        if self.node is not None:
            out["locations"] = [{"line": self.node.line, "column": self.node.column}]
        return out


Resolver = Callable[["Ctx", Any, dict[str, Any]], Any]


@dataclass(frozen=True)
class Spec:
    type: str  # an object type of SCHEMA, or a scalar
    resolve: Resolver
    args: frozenset[str] = frozenset()
    connection: bool = False  # `type` is then the node type


@dataclass
class Ctx:
    world: GitLabWorld
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass
class Conn:
    nodes: list[Any]
    has_next: bool
    end: str | None
    count: int
    start: int = 0


def _gid(kind: str, value: Any) -> str:
    return f"gid://gitlab/{kind}/{value}"


def _key(name: str) -> Resolver:
    return lambda _ctx, obj, _args: obj.get(name)


def _user(ctx: Ctx, uid: Any) -> Json | None:
    user = ctx.world.users.get(uid) if isinstance(uid, int) else None
    return user


def _project(ctx: Ctx, _obj: Any, args: dict[str, Any]) -> Project | None:
    project = ctx.world.projects.get(str(args.get("fullPath") or ""))
    if project is None:
        return None
    bot = int(ctx.world.bot["id"])
    visible = project.visibility == "public" or ctx.world.access_level(project.path, bot)
    return project if visible else None


def _paginate(rows: list[Any], args: dict[str, Any]) -> Conn:
    first = args.get("first")
    size = MAX_PAGE if first is None else max(0, min(int(first), MAX_PAGE))
    start = int(args["after"]) if str(args.get("after") or "").isdigit() else 0
    page = rows[start : start + size]
    end = start + len(page)
    return Conn(page, end < len(rows), str(end) if page else None, len(rows), start)


def _items(kind: str) -> Resolver:
    def resolve(ctx: Ctx, project: Project, args: dict[str, Any]) -> Conn:
        store = project.merge_requests if kind == "merge_requests" else project.issues
        iids = args.get("iids")
        wanted = None if iids is None else {int(i) for i in iids if str(i).isdigit()}
        rows = [item for iid, item in sorted(store.items()) if wanted is None or iid in wanted]
        return _paginate([(project, kind, item) for item in rows], args)

    return resolve


def _one(kind: str) -> Resolver:
    def resolve(ctx: Ctx, project: Project, args: dict[str, Any]) -> Any:
        store = project.merge_requests if kind == "merge_requests" else project.issues
        iid = str(args.get("iid") or "")
        item = store.get(int(iid)) if iid.isdigit() else None
        return None if item is None else (project, kind, item)

    return resolve


def _notes(ctx: Ctx, ref: tuple[Project, str, Json], args: dict[str, Any]) -> Conn:
    project, kind, item = ref
    wanted = str(args.get("filter") or "ALL_NOTES")
    if wanted not in NOTE_FILTERS:
        raise QueryError(f"Argument 'filter' on Field 'notes' has an invalid value ({wanted}).")
    rows = [
        n
        for n in project.notes.get((kind, item["iid"]), [])
        if wanted == "ALL_NOTES" or bool(n.get("system")) == (wanted == "ONLY_ACTIVITY")
    ]
    return _paginate(rows, args)


def _item_field(name: str) -> Resolver:
    return lambda _ctx, ref, _args: ref[2].get(name)


def _item_gid(_ctx: Ctx, ref: tuple[Project, str, Json], _args: dict[str, Any]) -> str:
    kind = "MergeRequest" if ref[1] == "merge_requests" else "Issue"
    return _gid(kind, ref[2]["id"])


PAGE = frozenset({"first", "after", "last", "before"})
_ITEM: dict[str, Spec] = {
    "id": Spec("ID", _item_gid),
    "iid": Spec("String", lambda _c, ref, _a: str(ref[2]["iid"])),
    "title": Spec("String", _item_field("title")),
    "state": Spec("String", _item_field("state")),
    "createdAt": Spec("Time", _item_field("created_at")),
    "updatedAt": Spec("Time", _item_field("updated_at")),
    "userNotesCount": Spec("Int", _item_field("user_notes_count")),
    "notes": Spec("Note", _notes, PAGE | {"filter"}, connection=True),
}
SCHEMA: dict[str, dict[str, Spec]] = {
    "Query": {"project": Spec("Project", _project, frozenset({"fullPath"}))},
    "Project": {
        "id": Spec("ID", lambda _c, p, _a: _gid("Project", p.id)),
        "fullPath": Spec("ID", lambda _c, p, _a: p.path),
        "issues": Spec("Issue", _items("issues"), PAGE | {"iids"}, connection=True),
        "mergeRequests": Spec(
            "MergeRequest", _items("merge_requests"), PAGE | {"iids"}, connection=True
        ),
        "issue": Spec("Issue", _one("issues"), frozenset({"iid"})),
        "mergeRequest": Spec("MergeRequest", _one("merge_requests"), frozenset({"iid"})),
    },
    "Issue": _ITEM,
    "MergeRequest": _ITEM,
    "Note": {
        "id": Spec("ID", lambda _c, n, _a: _gid("Note", n["id"])),
        "body": Spec("String", _key("body")),
        "system": Spec("Boolean", _key("system")),
        "internal": Spec("Boolean", _key("internal")),
        "createdAt": Spec("Time", _key("created_at")),
        "updatedAt": Spec("Time", _key("updated_at")),
        "author": Spec("UserCore", lambda c, n, _a: _user(c, n["author"]["id"])),
    },
    "UserCore": {
        "id": Spec("ID", lambda _c, u, _a: _gid("User", u["id"])),
        "username": Spec("String", _key("username")),
        "name": Spec("String", _key("name")),
        "bot": Spec("Boolean", lambda _c, u, _a: bool(u.get("bot"))),
    },
    "PageInfo": {
        "hasNextPage": Spec("Boolean", lambda _c, c, _a: c.has_next),
        "endCursor": Spec("String", lambda _c, c, _a: c.end),
    },
}
_CONNECTION = {
    "nodes": "nodes",
    "edges": "edges",
    "pageInfo": "PageInfo",
    "count": "Int",
}


def _fields(selections: list[Any]) -> list[Field]:
    out = []
    for sel in selections:
        if not isinstance(sel, Field):
            raise QueryError("Fragments are not served by the simulated GitLab")
        out.append(sel)
    return out


def _args(ctx: Ctx, node: Field, spec: Spec, owner: str) -> dict[str, Any]:
    for name in node.args:
        older = ctx.world.graphql == "before-16.5" and (node.name, name) == ("notes", "filter")
        if name not in spec.args or older:
            raise QueryError(f"Field '{node.name}' doesn't accept argument '{name}'", node)
    return {k: resolve_value(v, ctx.variables) for k, v in node.args.items()}


def _spec(owner: str, node: Field) -> Spec:
    spec = SCHEMA.get(owner, {}).get(node.name)
    if spec is None:
        raise QueryError(f"Field '{node.name}' doesn't exist on type '{owner}'", node)
    return spec


def complexity(ctx: Ctx, selections: list[Any], owner: str = "Query") -> int:
    """graphql-ruby's score of a selection set on `owner` (see the module docstring)."""
    total = 0
    for node in _fields(selections):
        if node.name == "__typename":
            total += 1
            continue
        spec = _spec(owner, node)
        own = ctx.world.graphql_field_costs.get(node.name, 1)
        if not spec.connection:
            inner = complexity(ctx, node.selections, spec.type) if node.selections else 0
            total += own + inner
            continue
        args = _args(ctx, node, spec, owner)
        size = args.get("first") if args.get("first") is not None else args.get("last")
        size = MAX_PAGE if size is None else max(0, min(int(size), MAX_PAGE))
        metadata = items = 0
        for sel in _fields(node.selections):
            metadata += 1
            if sel.name == "nodes":
                items += complexity(ctx, sel.selections, spec.type)
            elif sel.name == "edges":
                for part in _fields(sel.selections):
                    items += 1 + (
                        complexity(ctx, part.selections, spec.type) if part.name == "node" else 0
                    )
            elif sel.name in _CONNECTION:
                metadata += len(sel.selections)
            else:
                raise QueryError(
                    f"Field '{sel.name}' doesn't exist on type '{spec.type}Connection'", sel
                )
        total += own + size * items + metadata
    return total


def _value(ctx: Ctx, selections: list[Any], owner: str, obj: Any) -> Json:
    out: Json = {}
    for node in _fields(selections):
        if node.name == "__typename":
            out[node.key] = owner
            continue
        spec = _spec(owner, node)
        got = spec.resolve(ctx, obj, _args(ctx, node, spec, owner))
        if spec.connection:
            out[node.key] = _connection(ctx, node, spec.type, got)
        elif got is None or not node.selections:
            out[node.key] = got
        else:
            out[node.key] = _value(ctx, node.selections, spec.type, got)
    return out


def _connection(ctx: Ctx, node: Field, of: str, conn: Conn) -> Json:
    out: Json = {}
    for sel in _fields(node.selections):
        if sel.name == "nodes":
            out[sel.key] = [_value(ctx, sel.selections, of, n) for n in conn.nodes]
        elif sel.name == "edges":
            edges = []
            for i, n in enumerate(conn.nodes):
                edge: Json = {}
                for part in _fields(sel.selections):
                    edge[part.key] = (
                        _value(ctx, part.selections, of, n)
                        if part.name == "node"
                        else str(conn.start + i + 1)
                    )
                edges.append(edge)
            out[sel.key] = edges
        elif sel.name == "pageInfo":
            out[sel.key] = _value(ctx, sel.selections, "PageInfo", conn)
        else:
            out[sel.key] = conn.count
    return out


def execute(world: GitLabWorld, body: Json) -> tuple[int, Json]:
    """(status, answer) of one GraphQL request, as GitLab gives them: errors in a 200."""
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        return 200, {"errors": [{"message": "No query string was present"}]}
    if len(query) > MAX_QUERY_CHARS:
        return 200, {"errors": [{"message": "Query too large"}]}
    variables = body.get("variables") if isinstance(body.get("variables"), dict) else {}
    ctx = Ctx(world, dict(variables or {}))
    try:
        document = parse(query)
    except GraphQLSyntaxError as exc:
        where = [{"line": exc.line, "column": exc.column}]
        return 200, {"errors": [{"message": exc.message, "locations": where}]}
    if len(document.operations) != 1 or document.operations[0].kind != "query":
        return 200, {"errors": [{"message": "One query operation is served"}]}
    op = document.operations[0]
    for name, default in op.defaults.items():
        ctx.variables.setdefault(name, default)
    try:
        score = complexity(ctx, op.selections)
        if score > MAX_COMPLEXITY:
            message = f"Query has complexity of {score}, which exceeds max complexity of "
            return 200, {"errors": [{"message": message + str(MAX_COMPLEXITY)}]}
        world.graphql_scores.append(score)
        return 200, {"data": _value(ctx, op.selections, "Query", None)}
    except QueryError as exc:
        return 200, {"errors": [exc.as_json()]}
