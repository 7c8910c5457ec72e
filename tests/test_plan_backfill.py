"""`handlers.backfill.repos_to_import`: which repositories' history an installation imports,
from GitHub's real `installation` and `installation_repositories` payloads."""

from __future__ import annotations

from handlers import backfill
from tests.plan_support import changed, event, example


def test_a_new_installation_imports_the_repositories_it_lists() -> None:
    ev = event("installation", example("installation", "created"))
    assert backfill.repos_to_import(ev) == ("Codertocat", ["Codertocat/Hello-World"])


def test_a_new_installation_on_all_repositories_without_a_list_imports_every_one() -> None:
    payload = changed(example("installation", "created"), repositories=[])
    assert backfill.repos_to_import(event("installation", payload)) == ("Codertocat", None)


def test_repositories_added_import_only_those() -> None:
    ev = event("installation_repositories", example("installation_repositories", "added"))
    assert backfill.repos_to_import(ev) == ("Codertocat", ["Codertocat/Space"])


def test_an_event_adding_nothing_imports_nothing() -> None:
    """Not "everything": an empty `repositories_added` must never start a whole-org import."""
    payload = changed(example("installation_repositories", "added"), repositories_added=[])
    assert backfill.repos_to_import(event("installation_repositories", payload)) == (
        "Codertocat",
        [],
    )


def test_entries_without_a_name_are_skipped() -> None:
    payload = example("installation_repositories", "added")
    payload["repositories_added"] += [{"id": 1}, "garbage"]
    ev = event("installation_repositories", payload)
    assert backfill.repos_to_import(ev) == ("Codertocat", ["Codertocat/Space"])
