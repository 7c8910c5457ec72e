"""The worker gives way to intake: under `veilleur serve`, while webhooks keep arriving, it waits
after each delivery as long as that delivery took (bench/drain.py measures what intake gains)."""

from __future__ import annotations

import time

from bot.queue.worker_process import INTAKE_BUSY_SECONDS, MAX_PACE_SECONDS, IntakePacing
from tests.harness import City, Harness


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_pause_is_the_delivery_s_own_time_while_intake_is_busy_and_none_after() -> None:
    clock = Ticks()
    pacing = IntakePacing(clock)
    assert pacing(0.2) == 0.0  # nothing stored yet: full speed
    pacing.seen()  # the web process stored a delivery
    assert pacing(0.2) == 0.2
    assert pacing(30.0) == MAX_PACE_SECONDS
    clock.now += INTAKE_BUSY_SECONDS
    assert pacing(0.2) == 0.0  # quiet again: full speed


def test_the_worker_waits_what_its_pace_says_between_deliveries(
    harness: Harness, city: City
) -> None:
    ends: list[float] = []

    def pace(took: float) -> float:
        assert took > 0
        ends.append(time.monotonic())
        return 0.5

    harness.worker.pace = pace
    harness.forge.scenario.install(city.org)
    harness.forge.scenario.open_issue(city.repo, city.citizen_en, "Map", "It is broken.")
    harness.wait(timeout=60)  # the issue and the echoes of Veilleur's own actions
    assert len(ends) >= 3
    gaps = [b - a for a, b in zip(ends, ends[1:], strict=False)]
    assert min(gaps) >= 0.5, gaps  # without it: 3 to 190 ms
