"""A repository's `dry_run: true` holds for every handler: `ctx.apply` reads it from the
configuration resolved for the event, so no handler can forget to pass it."""

from __future__ import annotations

from tests.harness import City, Harness


def test_repository_dry_run_covers_the_config_check_run(harness: Harness, city: City) -> None:
    harness.forge.scenario.push_files(
        city.repo, "main", city.maintainer, {".github/veilleur.yml": "dry_run: true\n"}, "dry"
    )
    harness.wait()
    n = harness.forge.scenario.open_pull(
        city.repo,
        city.maintainer,
        "Tune config",
        "",
        files={".github/veilleur.yml": "labels:\n  extrnal: x\n"},
    )
    harness.wait()
    assert n > 0 and harness.forge.get_repo(city.repo).check_runs == []
    recorded = [a.detail or "" for a in harness.action_keys("dry-run:") if a.dry_run]
    assert any("veilleur.yml" in d or "check" in d.lower() for d in recorded), recorded
    assert harness.failures() == []
