"""The whole path once: signed webhook over HTTP -> intake -> worker -> handlers -> forge."""

from __future__ import annotations

from tests.harness import City, Harness


def test_external_issue_is_labelled(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_issue(
        city.repo,
        city.citizen_en,
        "Map is broken",
        "The map does not load on the city portal when I zoom in.",
    )
    harness.wait()
    assert harness.failures() == []
    assert "external" in harness.labels(city.repo, n)
