"""What `veilleur serve` does to keep the worker's pages shared with the web process it is
forked from (bot/heap.py): the live objects are frozen before the fork, the child freezes its
own once started, and free pages are given back."""

from __future__ import annotations

import gc
import hashlib
import mmap
import os
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import heap
from tests.memory_pages import resident_bytes


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


def test_the_pages_of_a_mapped_file_are_given_back_and_read_again_when_touched(
    tmp_path: Path,
) -> None:
    path = tmp_path / "models.bin"
    data = os.urandom(4 << 20)
    with open(path, "wb") as f:
        f.write(data)
        os.fsync(f.fileno())  # clean pages, as a library's are
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mapped:
        assert hashlib.sha256(mapped).digest() == hashlib.sha256(data).digest()  # all read
        assert resident_bytes(str(path)) >= 3 << 20
        assert heap.page_out(str(path)) >= 4 << 20
        assert resident_bytes(str(path)) < 1 << 20
        assert hashlib.sha256(mapped).digest() == hashlib.sha256(data).digest()  # unchanged
    assert heap.page_out("/no/such/file") == 0


class Loaded:
    """Stands for data loaded on demand: `drop()` says whether there was any."""

    def __init__(self) -> None:
        self.loaded, self.drops = False, 0

    def drop(self) -> bool:
        had, self.loaded = self.loaded, False
        self.drops += had
        return had


def test_idle_data_is_released_once_unused_long_enough_and_only_then() -> None:
    data = Loaded()
    idle = heap.IdleRelease(0.2, data.drop)
    with idle.use():
        data.loaded = True
    used = time.monotonic()
    assert not idle.release_if_idle(used)  # just used: kept
    assert data.loaded
    deadline = time.monotonic() + 10  # its own timer releases it, unasked
    while data.loaded and time.monotonic() < deadline:
        time.sleep(0.05)
    assert data.drops == 1
    assert not idle.release_if_idle(time.monotonic() + 1)  # nothing left to drop


def test_a_use_in_progress_holds_off_the_release() -> None:
    data = Loaded()
    idle = heap.IdleRelease(60.0, data.drop)
    results: list[bool] = []
    with idle.use():
        data.loaded = True
        other = threading.Thread(target=lambda: results.append(idle.release_if_idle(1e12)))
        other.start()
        other.join(0.2)
        assert other.is_alive() and data.loaded  # waits for the use to end
    other.join(10)
    assert results == [True] and not data.loaded
