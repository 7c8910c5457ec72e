"""A small GraphQL reader: the query language subset GitHub clients send.

Operations with variables (and defaults), fields with aliases and arguments, nested selection
sets, named fragments, inline fragments, `@include`/`@skip`, and every literal kind. Errors
carry the line and column, as GitHub reports them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


class GraphQLSyntaxError(Exception):
    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class EnumValue:
    value: str


@dataclass
class Directive:
    name: str
    args: dict[str, Any]


@dataclass
class Field:
    name: str
    alias: str | None
    args: dict[str, Any]
    directives: list[Directive]
    selections: list[Selection]
    line: int
    column: int

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class InlineFragment:
    type_condition: str | None
    directives: list[Directive]
    selections: list[Selection]


@dataclass
class FragmentSpread:
    name: str
    directives: list[Directive]
    line: int
    column: int


Selection = Field | InlineFragment | FragmentSpread


@dataclass
class Operation:
    kind: str  # query | mutation | subscription
    name: str | None
    defaults: dict[str, Any]  # variable name -> default value (None when none is given)
    required: set[str]  # variables whose type ends with `!`
    selections: list[Selection]


@dataclass
class Document:
    operations: list[Operation] = field(default_factory=list)
    fragments: dict[str, tuple[str, list[Selection]]] = field(default_factory=dict)


_TOKEN = re.compile(
    r"""(?P<skip>[\s,\ufeff]+|\#[^\n]*)
      | (?P<block>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\")
      | (?P<string>"(?:[^"\\\n]|\\.)*")
      | (?P<float>-?\d+(?:\.\d+(?:[eE][+-]?\d+)?|[eE][+-]?\d+))
      | (?P<int>-?\d+)
      | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
      | (?P<punct>\.\.\.|[!$&()\:=@\[\]{}|])""",
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str
    text: str
    line: int
    column: int


def _tokens(source: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        line = source.count("\n", 0, pos) + 1
        column = pos - (source.rfind("\n", 0, pos) + 1) + 1
        if m is None:
            raise GraphQLSyntaxError(f'Parse error on "{source[pos]}"', line, column)
        kind = m.lastgroup or ""
        if kind != "skip":
            out.append(_Tok(kind, m.group(), line, column))
        pos = m.end()
    end_line = source.count("\n") + 1
    out.append(_Tok("eof", "", end_line, len(source) - (source.rfind("\n") + 1) + 1))
    return out


class _Parser:
    def __init__(self, source: str) -> None:
        self.toks = _tokens(source)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def fail(self, what: str | None = None) -> GraphQLSyntaxError:
        t = self.tok
        shown = "end of file" if t.kind == "eof" else f'"{t.text}"'
        message = f"Parse error on {shown}" + (f" (expected {what})" if what else "")
        return GraphQLSyntaxError(message, t.line, t.column)

    def peek(self, text: str) -> bool:
        return self.tok.kind in ("punct", "name") and self.tok.text == text

    def take(self, text: str | None = None, kind: str | None = None) -> _Tok:
        t = self.tok
        if (text is not None and not self.peek(text)) or (kind is not None and t.kind != kind):
            raise self.fail(text or kind)
        self.i += 1
        return t

    def document(self) -> Document:
        doc = Document()
        while self.tok.kind != "eof":
            if self.peek("fragment"):
                self.take()
                name = self.take(kind="name").text
                self.take("on")
                on = self.take(kind="name").text
                self.directives()
                doc.fragments[name] = (on, self.selection_set())
            elif self.peek("{"):
                doc.operations.append(Operation("query", None, {}, set(), self.selection_set()))
            elif self.tok.text in ("query", "mutation", "subscription"):
                kind = self.take().text
                op_name = self.take().text if self.tok.kind == "name" else None
                defaults, required = self.variable_definitions()
                self.directives()
                selections = self.selection_set()
                doc.operations.append(Operation(kind, op_name, defaults, required, selections))
            else:
                raise self.fail()
        return doc

    def variable_definitions(self) -> tuple[dict[str, Any], set[str]]:
        defaults: dict[str, Any] = {}
        required: set[str] = set()
        if not self.peek("("):
            return defaults, required
        self.take("(")
        while not self.peek(")"):
            self.take("$")
            name = self.take(kind="name").text
            self.take(":")
            if self.type_ref():
                required.add(name)
            defaults[name] = self.value(const=True) if self.peek("=") and self.take("=") else None
            self.directives()
        self.take(")")
        return defaults, required

    def type_ref(self) -> bool:
        """Reads a type; True when it is non-null."""
        if self.peek("["):
            self.take("[")
            self.type_ref()
            self.take("]")
        else:
            self.take(kind="name")
        if self.peek("!"):
            self.take("!")
            return True
        return False

    def selection_set(self) -> list[Selection]:
        self.take("{")
        out: list[Selection] = []
        while not self.peek("}"):
            out.append(self.selection())
        self.take("}")
        if not out:
            raise self.fail("a selection")
        return out

    def selection(self) -> Selection:
        if self.peek("..."):
            start = self.take("...")
            if self.peek("on") or self.peek("{") or self.peek("@"):
                on = None
                if self.peek("on"):
                    self.take("on")
                    on = self.take(kind="name").text
                return InlineFragment(on, self.directives(), self.selection_set())
            name = self.take(kind="name").text
            return FragmentSpread(name, self.directives(), start.line, start.column)
        first = self.take(kind="name")
        alias, name = None, first.text
        if self.peek(":"):
            self.take(":")
            alias, name = first.text, self.take(kind="name").text
        args = self.arguments()
        directives = self.directives()
        selections = self.selection_set() if self.peek("{") else []
        return Field(name, alias, args, directives, selections, first.line, first.column)

    def arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.peek("("):
            self.take("(")
            while not self.peek(")"):
                name = self.take(kind="name").text
                self.take(":")
                args[name] = self.value()
            self.take(")")
        return args

    def directives(self) -> list[Directive]:
        out: list[Directive] = []
        while self.peek("@"):
            self.take("@")
            out.append(Directive(self.take(kind="name").text, self.arguments()))
        return out

    def value(self, const: bool = False) -> Any:
        t = self.tok
        if t.kind == "punct" and t.text == "$" and not const:
            self.take("$")
            return Var(self.take(kind="name").text)
        if t.kind == "int":
            self.i += 1
            return int(t.text)
        if t.kind == "float":
            self.i += 1
            return float(t.text)
        if t.kind == "string":
            self.i += 1
            return json.loads(t.text)
        if t.kind == "block":
            self.i += 1
            return t.text[3:-3].replace('\\"""', '"""')
        if t.kind == "name":
            self.i += 1
            return {"true": True, "false": False, "null": None}.get(t.text, EnumValue(t.text))
        if self.peek("["):
            self.take("[")
            items = []
            while not self.peek("]"):
                items.append(self.value(const))
            self.take("]")
            return items
        if self.peek("{"):
            self.take("{")
            obj: dict[str, Any] = {}
            while not self.peek("}"):
                name = self.take(kind="name").text
                self.take(":")
                obj[name] = self.value(const)
            self.take("}")
            return obj
        raise self.fail("a value")


def parse(source: str) -> Document:
    return _Parser(source).document()


def resolve_value(node: Any, variables: dict[str, Any]) -> Any:
    """A literal with its variables replaced; enum values become their names."""
    if isinstance(node, Var):
        return variables.get(node.name)
    if isinstance(node, EnumValue):
        return node.value
    if isinstance(node, list):
        return [resolve_value(x, variables) for x in node]
    if isinstance(node, dict):
        return {k: resolve_value(v, variables) for k, v in node.items()}
    return node


def included(directives: list[Directive], variables: dict[str, Any]) -> bool:
    for d in directives:
        cond = bool(resolve_value(d.args.get("if"), variables))
        if (d.name == "include" and not cond) or (d.name == "skip" and cond):
            return False
    return True
