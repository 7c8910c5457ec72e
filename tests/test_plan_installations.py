"""`handlers.installations.apply_event`: the installation and repository rows each real
`installation` / `installation_repositories` payload implies, at a frozen now.

The step writes through the session it is given; here a throw-away SQLite file, read back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from bot.storage.db import make_engine
from bot.storage.models import Installation, Repository
from handlers import installations
from tests.plan_support import NOW, changed, event, example

LATER = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'installations.db'}")
    SQLModel.metadata.create_all(eng)
    yield eng
    eng.dispose()


def apply(engine: Engine, name: str, payload: dict[str, Any], now: datetime = NOW) -> None:
    with Session(engine) as s:
        installations.apply_event(s, event(name, payload), now)
        s.commit()


def rows(engine: Engine) -> tuple[dict[int, Installation], dict[str, Repository]]:
    with Session(engine) as s:
        insts = {i.id: i for i in s.exec(select(Installation))}
        repos = {r.full_name: r for r in s.exec(select(Repository))}
    return insts, repos


def aware(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def test_a_new_installation_records_its_account_and_repositories(engine: Engine) -> None:
    apply(engine, "installation", example("installation", "created"))
    insts, repos = rows(engine)
    inst = insts[957387]
    assert (inst.account_login, inst.account_type, inst.repository_selection) == (
        "Codertocat",
        "User",
        "selected",
    )
    assert aware(inst.created_at) == datetime.fromtimestamp(1557933591, UTC)  # epoch seconds
    assert inst.deleted_at is None and inst.suspended_at is None
    repo = repos["Codertocat/Hello-World"]
    assert (repo.installation_id, repo.owner, repo.private) == (957387, "Codertocat", False)
    assert aware(repo.added_at) == NOW and repo.removed_at is None


def test_uninstalling_marks_the_installation_and_its_repositories_gone(engine: Engine) -> None:
    apply(engine, "installation", example("installation", "created"))
    deleted = changed(example("installation", "deleted"), installation__id=957387)
    deleted["repositories"] = example("installation", "created")["repositories"]
    apply(engine, "installation", deleted, LATER)
    insts, repos = rows(engine)
    assert aware(insts[957387].deleted_at) == LATER
    assert aware(repos["Codertocat/Hello-World"].removed_at) == LATER
    # Installed again: back, with its first installation date kept.
    apply(engine, "installation", example("installation", "created"), LATER)
    insts, repos = rows(engine)
    assert insts[957387].deleted_at is None and repos["Codertocat/Hello-World"].removed_at is None
    assert aware(repos["Codertocat/Hello-World"].added_at) == NOW


def test_suspension_uses_githubs_time_and_unsuspension_clears_it(engine: Engine) -> None:
    apply(engine, "installation", example("installation", "suspend"), LATER)
    insts, _ = rows(engine)
    assert aware(insts[16598467].suspended_at) == datetime(2021, 4, 29, 2, 32, 50, tzinfo=UTC)
    apply(engine, "installation", example("installation", "unsuspend"), LATER)
    insts, _ = rows(engine)
    assert insts[16598467].suspended_at is None


def test_repositories_added_and_removed(engine: Engine) -> None:
    apply(engine, "installation", example("installation", "created"))
    apply(engine, "installation_repositories", example("installation_repositories", "added"))
    _, repos = rows(engine)
    assert repos["Codertocat/Space"].installation_id == 957387
    assert repos["Codertocat/Space"].removed_at is None
    removed = changed(example("installation_repositories", "removed"), installation__id=957387)
    removed["repositories_removed"] = example("installation_repositories", "added")[
        "repositories_added"
    ]
    apply(engine, "installation_repositories", removed, LATER)
    _, repos = rows(engine)
    assert aware(repos["Codertocat/Space"].removed_at) == LATER
    assert repos["Codertocat/Hello-World"].removed_at is None  # only the one removed


def test_a_payload_without_an_installation_id_writes_nothing(engine: Engine) -> None:
    apply(engine, "installation", changed(example("installation", "created"), installation={}))
    assert rows(engine) == ({}, {})
