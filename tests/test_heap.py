"""What `veilleur serve` does to keep the worker's pages shared with the web process it is
forked from (bot/heap.py): the live objects are frozen before the fork, the child freezes its
own once started, and free pages are given back."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot import heap


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session collects as usual


def test_what_lives_at_the_fork_is_out_of_the_collectors_reach() -> None:
    live = [[i] for i in range(5000)]  # tracked containers, as modules' dicts and lists are
    heap.before_fork()
    assert gc.get_freeze_count() >= len(live)


def test_a_started_process_frees_its_garbage_then_freezes_the_rest() -> None:
    class Node:
        other: object = None

    def cycle() -> weakref.ref[Node]:  # unreachable once returned: only the collector frees it
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)

    cycles = [cycle() for _ in range(1000)]
    kept = [[i] for i in range(5000)]
    heap.after_start()
    assert gc.get_freeze_count() >= len(kept)
    assert all(ref() is None for ref in cycles)  # collected, not frozen for good
    assert gc.get_count()[0] < 100  # the young generation starts empty


def test_trim_answers_on_any_libc() -> None:
    assert heap.trim() in (True, False)
