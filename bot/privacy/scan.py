"""Find a person in every table of the record, whatever its columns: the export lists what is
found, the erasure rewrites it, and the tests check that nothing is left.

Each text or JSON column is first filtered in SQL (`LIKE` on a needle: the login, names,
e-mail addresses), then confirmed with the person's pattern. Binary columns (stored payloads)
are read by `bot.privacy.payload_scrub`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import JSON, LargeBinary, String, Table, cast, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401  (every table registered in the metadata)
from bot.privacy.person import Person

Row = dict[str, Any]


def tables() -> list[Table]:
    return list(SQLModel.metadata.sorted_tables)


def _text_columns(table: Table) -> list[Any]:
    out = []
    for col in table.columns:
        if isinstance(col.type, LargeBinary):
            continue
        impl = getattr(col.type, "impl", None)  # sqlmodel's AutoString decorates a String
        if isinstance(col.type, String | JSON) or isinstance(impl, String):
            out.append(col)
    return out


def _needles(person: Person) -> list[str]:
    words = {person.login, *person.emails, *(n for n in person.names if len(n) >= 3)}
    words |= {f"/u/{i}" for i in person.ids} | {f"{i}+" for i in person.ids}
    return sorted(w.casefold() for w in words if w)


def plain(value: Any) -> Any:
    """A column value as JSON-ready data."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return None
    return value


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def matching_rows(conn: Connection, person: Person) -> Iterator[tuple[Table, Row]]:
    """Every row of every table with a trace of the person in a text or JSON column."""
    needles = _needles(person)
    for table in tables():
        cols = _text_columns(table)
        if not cols or not needles:
            continue
        where = or_(
            *(
                func.lower(cast(col, String)).contains(n, autoescape=True)
                for col in cols
                for n in needles
            )
        )
        for row in conn.execute(select(table).where(where)).mappings():
            if any(person.found_in(_as_text(row[c.name])) for c in cols):
                yield table, dict(row)


def rewrite(
    conn: Connection, person: Person, pseudonym: str, keep_tables: frozenset[str] = frozenset()
) -> int:
    """Replace every trace of the person left in text and JSON columns with the pseudonym
    (mentions in other people's comments, keys of effects already done...). Rows of a
    primary key that would collide with an existing one are deleted (already rewritten)."""
    changed = 0
    for table, row in list(matching_rows(conn, person)):
        if table.name in keep_tables:
            continue
        values: Row = {}
        for col in _text_columns(table):
            old = row[col.name]
            text = _as_text(old)
            if not person.found_in(text):
                continue
            new = person.replace_in(text, pseudonym)
            values[col.name] = new if isinstance(old, str) else orjson.loads(new)
        key = [c == row[c.name] for c in table.primary_key.columns]
        pk = table.primary_key.columns
        if any(c.name in values for c in pk):
            new_key = {c.name: values.get(c.name, row[c.name]) for c in pk}
            taken = select(table).where(*(table.c[k] == v for k, v in new_key.items()))
            if conn.execute(taken).first() is not None:
                conn.execute(table.delete().where(*key))
                changed += 1
                continue
        conn.execute(update(table).where(*key).values(**values))
        changed += 1
    return changed


def export_rows(conn: Connection, person: Person) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for table, row in matching_rows(conn, person):
        # str(): column names are sqlalchemy's quoted_name, a str subclass orjson refuses
        out.setdefault(table.name, []).append({str(k): plain(v) for k, v in row.items()})
    return out
