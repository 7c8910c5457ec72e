"""Where a configuration mistake is: map pydantic error paths back to a file, line and column.

The merged config comes from up to three files; for each error we find the file whose value
won the merge at that path (mappings merge, lists and scalars replace), then read the line and
column of that key from ruamel.yaml's round-trip line info (`.lc`).
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bot.config.schema import VeilleurConfig

Path_ = tuple[str | int, ...]
Layer = tuple[dict[str, Any], str]  # (raw mapping, file name shown to maintainers)
Pos = tuple[int, int]


@dataclass(frozen=True)
class ConfigError:
    """One mistake in a configuration file. `line`/`column` are 1-based, None when unknown."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConfigError:
        return cls(
            file=str(data.get("file") or ""),
            line=data.get("line"),
            column=data.get("column"),
            path=str(data.get("path") or ""),
            message=str(data.get("message") or ""),
        )


def located_errors(exc: ValidationError, layers: list[Layer]) -> list[ConfigError]:
    """One ConfigError per pydantic error; `layers` are ordered highest precedence first."""
    errors = {_to_error(err, layers) for err in exc.errors()}
    return sorted(errors, key=lambda e: (e.file, e.line or 0, e.column or 0, e.path))


def _to_error(err: Any, layers: list[Layer]) -> ConfigError:
    loc: Path_ = tuple(p for p in err["loc"] if p != "[key]")
    index, found = _owner(loc, [la[0] for la in layers])
    data, filename = layers[index]
    key_pos, value_pos = _position(data, found)
    at_key = err["type"] in ("extra_forbidden", "missing") or "[key]" in err["loc"]
    pos = key_pos if at_key or found != loc or value_pos is None else value_pos
    line, col = pos if pos is not None else (None, None)
    return ConfigError(filename, line, col, _dotted(loc), _message(err, loc))


def _owner(loc: Path_, datas: list[Any]) -> tuple[int, Path_]:
    """Which layer (highest precedence first) supplied the value at `loc`, and how much of it."""
    nodes: list[Any] = list(datas)
    owner, fixed = 0, None
    found: Path_ = ()
    for part in loc:
        if fixed is None:
            idx = next((i for i, n in enumerate(nodes) if isinstance(n, dict) and part in n), None)
            if idx is None:
                break
            owner, child = idx, nodes[idx][part]
            if isinstance(child, dict):  # mappings merge: lower layers may still own sub-keys
                nodes = [
                    n[part]
                    if i >= idx and isinstance(n, dict) and isinstance(n.get(part), dict)
                    else None
                    for i, n in enumerate(nodes)
                ]
            else:  # lists and scalars replace: this layer owns everything below
                fixed = child
        elif isinstance(fixed, dict) and part in fixed:
            fixed = fixed[part]
        elif isinstance(fixed, list) and isinstance(part, int) and 0 <= part < len(fixed):
            fixed = fixed[part]
        else:
            break
        found += (part,)
    return owner, found


def _position(data: Any, path: Path_) -> tuple[Pos | None, Pos | None]:
    """1-based (line, column) of the key at `path` and of its value, from ruamel's `.lc`."""
    if not isinstance(data, CommentedMap):
        return None, None  # a plain dict carries no line info
    key_pos: Pos | None = (1, 1)
    value_pos: Pos | None = None
    node: Any = data
    try:
        for part in path:
            if isinstance(node, CommentedMap):
                k, v = node.lc.key(part), node.lc.value(part)
                key_pos, value_pos = (k[0] + 1, k[1] + 1), (v[0] + 1, v[1] + 1)
            elif isinstance(node, CommentedSeq):
                item = node.lc.item(part)
                key_pos = value_pos = (item[0] + 1, item[1] + 1)
            else:
                break
            node = node[part]
    except (KeyError, IndexError, TypeError, AttributeError):
        pass
    return key_pos, value_pos


def _dotted(loc: Path_) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: Any, loc: Path_) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1) if loc else []
        hint = f'; did you mean "{close[0]}"?' if close else ""
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    ctx = err.get("ctx") or {}
    if kind in _PLAIN:
        got = err.get("input")
        shown = f" (got {got!r})" if isinstance(got, str | int | float) else ""
        try:
            return _PLAIN[kind].format(**ctx) + shown
        except (KeyError, IndexError):
            pass
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg


# Pydantic's wording, rephrased for someone editing YAML by hand.
_PLAIN = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text (quote it)",
    "list_type": "must be a list, like [a, b]",
    "dict_type": "must be a mapping of keys",
    "model_type": "must be a mapping of keys",
    "model_attributes_type": "must be a mapping of keys",
    "date_from_datetime_parsing": "must be a date like 2025-12-24",
    "date_parsing": "must be a date like 2025-12-24",
    "date_type": "must be a date like 2025-12-24",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "too_short": "must have at least {min_length} item(s)",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
    "literal_error": "must be one of {expected}",
}


def _known_keys(loc: Path_) -> list[str]:
    """Keys allowed at `loc`, read from the models, for "did you mean" hints."""
    tp: Any = VeilleurConfig
    for part in loc:
        model = _model_in(tp)
        if model is not None and isinstance(part, str):
            fld = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
            if fld is None:
                return []
            tp = fld.annotation
        else:  # a list index or a dict key: go to the container's item type
            args = get_args(tp)
            if not args:
                return []
            tp = args[-1]
    model = _model_in(tp)
    return [f.alias or n for n, f in model.model_fields.items()] if model else []


def _model_in(tp: Any) -> type[BaseModel] | None:
    try:
        return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None
    except TypeError:  # generic aliases such as list[int]
        return None
