"""GitHub's GraphQL endpoint for the simulated forge: validation, cost, rate limit, execution.

`answer(forge, installation, body)` serves `POST /graphql` (unless `forge.graphql_resolver`
overrides it). It checks the query against the schema of `graphql_schema` (unknown fields and
arguments, pagination bounds, the node limit) the way GitHub does, charges its cost against a
points budget (`limits(forge)`: 5,000 an hour, reset by the forge clock), then executes it.

Answers follow GitHub: always HTTP 200; validation errors without `data`; resolution errors
(`NOT_FOUND`, `FORBIDDEN`) beside partial data with `null` at their path; an exhausted budget
gives `{"errors": [{"type": "RATE_LIMITED", …}]}` with `x-ratelimit-remaining: 0` and
`x-ratelimit-reset` headers. Tests make the budget run out with `limits(forge).exhaust(…)`.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.sim.graphql_lang import (
    Field,
    FragmentSpread,
    GraphQLSyntaxError,
    InlineFragment,
    Operation,
    Selection,
    included,
    parse,
    resolve_value,
)
from bot.sim.graphql_schema import (
    ABSTRACT,
    SCALARS,
    Ctx,
    FieldDef,
    Typed,
    Unresolved,
    build_schema,
    field_def,
    is_type,
)
from bot.sim.models import Installation
from bot.sim.shapes import iso

Json = dict[str, Any]
MAX_FIRST = 100
MAX_NODES = 500_000
WINDOW = timedelta(hours=1)


@dataclass
class GraphQLLimits:
    """The points budget of the GraphQL API (one for the whole forge)."""

    limit: int = 5000
    used: int = 0
    reset_at: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def charge(self, now: datetime, cost: int) -> bool:
        """Take `cost` points; False (nothing taken) when the budget cannot pay."""
        with self.lock:
            if self.reset_at is None or now >= self.reset_at:
                self.used, self.reset_at = 0, now + WINDOW
            if cost > self.limit - self.used:
                return False
            self.used += cost
            return True

    def exhaust(self, reset_at: datetime, remaining: int = 0) -> None:
        """Leave only `remaining` points until `reset_at` (forge clock)."""
        with self.lock:
            self.used, self.reset_at = self.limit - remaining, reset_at

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def headers(self) -> dict[str, str]:
        reset = int(self.reset_at.timestamp()) if self.reset_at else 0
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "graphql",
        }


_LIMITS: weakref.WeakKeyDictionary[Any, GraphQLLimits] = weakref.WeakKeyDictionary()


def limits(forge: Any) -> GraphQLLimits:
    found = _LIMITS.get(forge)
    if found is None:
        found = _LIMITS[forge] = GraphQLLimits()
    return found


class _Invalid(Exception):
    def __init__(self, errors: list[Json]) -> None:
        super().__init__(errors[0]["message"] if errors else "invalid")
        self.errors = errors


def _error(message: str, line: int, column: int, path: list[Any], **extensions: Any) -> Json:
    out: Json = {"path": path, "locations": [{"line": line, "column": column}]}
    if extensions:
        out["extensions"] = extensions
    return out | {"message": message}


@dataclass
class _Plan:
    """What the static walk learns: GitHub's cost inputs."""

    requests: int = 0
    nodes: int = 0
    errors: list[Json] = field(default_factory=list)

    @property
    def cost(self) -> int:
        return max(1, math.ceil(self.requests / 100))


class _Checker:
    def __init__(self, fragments: dict[str, tuple[str, list[Selection]]], variables: Json):
        self.fragments = fragments
        self.variables = variables
        self.plan = _Plan()

    def walk(self, type_name: str, selections: list[Selection], mult: int, path: list[Any]) -> None:
        for sel in selections:
            if not included(sel.directives, self.variables):
                continue
            if isinstance(sel, InlineFragment):
                on = sel.type_condition or type_name
                if not is_type(on):
                    self.fail(f"No such type {on}, so it can't be a fragment condition", 0, 0, path)
                    continue
                self.walk(on, sel.selections, mult, path)
            elif isinstance(sel, FragmentSpread):
                found = self.fragments.get(sel.name)
                if found is None or len(path) > 30:
                    message = f"Fragment {sel.name} was used, but not defined"
                    self.fail(message, sel.line, sel.column, path)
                    continue
                self.walk(found[0], found[1], mult, path + [f"... {sel.name}"])
            else:
                self.field(type_name, sel, mult, path)

    def field(self, type_name: str, sel: Field, mult: int, path: list[Any]) -> None:
        where = path + [sel.key]
        if sel.name == "__typename":
            return
        fdef = field_def(type_name, sel.name)
        if fdef is None:
            message = f"Field '{sel.name}' doesn't exist on type '{type_name}'"
            self.fail(message, sel.line, sel.column, where, code="undefinedField",
                      typeName=type_name, fieldName=sel.name)  # fmt: skip
            return
        for arg in sel.args:
            if arg not in fdef.args:
                message = f"Field '{sel.name}' doesn't accept argument '{arg}'"
                self.fail(message, sel.line, sel.column, where, code="argumentNotAccepted")
        child = mult
        if fdef.connection:
            first = resolve_value(sel.args.get("first"), self.variables)
            if not isinstance(first, int):
                message = (
                    f"You must provide a `first` or `last` value to properly paginate the "
                    f"`{sel.name}` connection."
                )
                self.fail(
                    message, sel.line, sel.column, where, type="MISSING_PAGINATION_BOUNDARIES"
                )
                return
            if first > MAX_FIRST or first < 0:
                message = (
                    f"Requesting {first} records on the `{sel.name}` connection exceeds the "
                    f"`first` limit of {MAX_FIRST} records."
                )
                self.fail(message, sel.line, sel.column, where, type="EXCESSIVE_PAGINATION")
                return
            self.plan.requests += mult
            self.plan.nodes += mult * first
            child = mult * max(first, 1)
        leaf = fdef.type in SCALARS
        if leaf and sel.selections:
            message = (
                f"Selections can't be made on scalars (field '{sel.name}' returns {fdef.type})"
            )
            self.fail(message, sel.line, sel.column, where)
        elif not leaf and not sel.selections:
            message = f"Field must have selections (field '{sel.name}' returns {fdef.type})"
            self.fail(message, sel.line, sel.column, where)
        elif not leaf:
            self.walk(fdef.type, sel.selections, child, where)

    def fail(self, message: str, line: int, column: int, path: list[Any], **extra: Any) -> None:
        kind = extra.pop("type", None)
        err = _error(message, line, column, path, **extra)
        if kind:
            err = {"type": kind} | err
        self.plan.errors.append(err)


class _Executor:
    def __init__(self, ctx: Ctx, fragments: dict[str, tuple[str, list[Selection]]]) -> None:
        self.ctx = ctx
        self.fragments = fragments

    def select(self, type_name: str, value: Any, sels: list[Selection], path: list[Any]) -> Json:
        out: Json = {}
        for sel in sels:
            if not included(sel.directives, self.ctx.variables):
                continue
            if isinstance(sel, InlineFragment | FragmentSpread):
                if isinstance(sel, InlineFragment):
                    on, inner = sel.type_condition, sel.selections
                else:
                    on, inner = self.fragments[sel.name]
                if on is None or on == type_name or type_name in ABSTRACT.get(on, ()):
                    _merge(out, self.select(type_name, value, inner, path))
                continue
            if sel.name == "__typename":
                out[sel.key] = type_name
                continue
            fdef = field_def(type_name, sel.name)
            assert fdef is not None  # checked before execution
            args = {k: resolve_value(v, self.ctx.variables) for k, v in sel.args.items()}
            where = path + [sel.key]
            try:
                raw = fdef.fn(self.ctx, value, args)
            except Unresolved as exc:
                err = {"type": exc.kind} | _error(exc.message, sel.line, sel.column, where)
                self.ctx.errors.append(err)
                raw = None
            _merge(out, {sel.key: self.complete(fdef, raw, sel.selections, where)})
        return out

    def complete(self, fdef: FieldDef, raw: Any, sels: list[Selection], path: list[Any]) -> Any:
        if raw is None or fdef.type in SCALARS:
            return raw
        if isinstance(raw, list):
            return [self.complete(fdef, x, sels, path + [i]) for i, x in enumerate(raw)]
        if isinstance(raw, Typed):
            return self.select(raw.type, raw.value, sels, path)
        return self.select(fdef.type, raw, sels, path)


def _merge(into: Json, extra: Json) -> None:
    for key, value in extra.items():
        have = into.get(key)
        if isinstance(have, dict) and isinstance(value, dict):
            _merge(have, value)
        elif isinstance(have, list) and isinstance(value, list) and len(have) == len(value):
            for a, b in zip(have, value, strict=True):
                if isinstance(a, dict) and isinstance(b, dict):
                    _merge(a, b)
        else:
            into[key] = value


ROOTS = {"query": "Query", "mutation": "Mutation"}


def _operation(ops: list[Operation], name: Any) -> Operation:
    chosen = [op for op in ops if name is None or op.name == name]
    if len(chosen) != 1:
        message = "An operation name is required" if name is None else f'No operation "{name}"'
        raise _Invalid([{"message": message}])
    if chosen[0].kind not in ROOTS:
        raise _Invalid([{"message": f"simforge serves no {chosen[0].kind}s"}])
    return chosen[0]


def answer(forge: Any, inst: Installation, body: Json) -> tuple[Json, dict[str, str]]:
    """The JSON answer to one GraphQL request, and the rate-limit headers to send with it."""
    build_schema()  # once per process: the types are registered on first use, not at import
    budget = limits(forge)
    query, given = str(body.get("query") or ""), body.get("variables") or {}
    try:
        doc = parse(query)
        op = _operation(doc.operations, body.get("operationName"))
        variables = {**op.defaults, **{k: v for k, v in given.items()}}
        missing = [n for n in sorted(op.required) if variables.get(n) is None]
        if missing:
            message = f"Variable ${missing[0]} of type non-null was provided invalid value"
            raise _Invalid([{"message": message, "extensions": {"value": None}}])
        checker = _Checker(doc.fragments, variables)
        path = [f"{op.kind} {op.name}" if op.name else op.kind]
        checker.walk(ROOTS[op.kind], op.selections, 1, path)
        if checker.plan.errors:
            raise _Invalid(checker.plan.errors)
    except GraphQLSyntaxError as exc:
        err = {"message": exc.message, "locations": [{"line": exc.line, "column": exc.column}]}
        return {"errors": [err]}, budget.headers()
    except _Invalid as exc:
        return {"errors": exc.errors}, budget.headers()
    plan = checker.plan
    if plan.nodes > MAX_NODES:
        message = (
            f"By the time this query traverses to the nodes connection, it is requesting up to "
            f"{plan.nodes} possible nodes which exceeds the maximum limit of {MAX_NODES}."
        )
        return {"errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED", "message": message}]}, {}
    now = forge.now()
    if not budget.charge(now, plan.cost):
        message = f"API rate limit already exceeded for installation ID {inst.id}."
        return {"errors": [{"type": "RATE_LIMITED", "message": message}]}, budget.headers()
    rate = {
        "cost": plan.cost,
        "limit": budget.limit,
        "remaining": budget.remaining,
        "used": budget.used,
        "resetAt": iso(budget.reset_at),
        "nodeCount": plan.nodes,
    }
    ctx = Ctx(forge=forge, inst=inst, variables=variables, rate=rate)
    with forge.lock:
        data = _Executor(ctx, doc.fragments).select(ROOTS[op.kind], None, op.selections, [])
    out: Json = {"data": data}
    if ctx.errors:
        out["errors"] = ctx.errors
    return out, budget.headers()
