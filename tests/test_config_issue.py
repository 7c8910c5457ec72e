"""The configuration-error issue, once fixed, keeps the last errors and says when and by which
commit they were fixed (pure step from the real `push` payload, and over the simulated forge)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.config.errors import ConfigError
from bot.effects.actions import UpsertIssue
from bot.messages.templating import Renderer
from handlers.config_watch import error_issue, fix_of
from tests.conftest import WEBHOOK_EXAMPLES
from tests.harness import City, Harness

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TITLE = "Veilleur configuration error"


def _push() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WEBHOOK_EXAMPLES / "push" / "payload.json").read_text())
    return data


def test_the_fixing_commit_is_read_from_the_real_push_payload() -> None:
    payload = _push()
    fix = fix_of(payload, NOW)
    head = payload["head_commit"] or {}
    assert fix.commit == str(head.get("id") or payload["after"])[:12] and len(fix.commit) == 12
    assert fix.at.endswith(" UTC") and fix.author


def test_a_fixed_configuration_closes_the_issue_keeping_its_last_errors() -> None:
    errors = [ConfigError(".github/veilleur.yml", 3, 3, "labels.extrnal", "unknown key")]
    fix = fix_of(_push(), NOW)
    action = error_issue("paris/carto", [], "en", Renderer(), errors, fix)
    assert isinstance(action, UpsertIssue) and action.close
    assert "labels.extrnal" in action.body and "unknown key" in action.body
    assert f"Fixed on {fix.at} by commit" in action.body and fix.commit in action.body
    assert "Until this is fixed" not in action.body
    fr = error_issue("paris/carto", [], "fr", Renderer(), errors, fix)
    assert f"Corrigé le {fix.at}" in fr.body  # type: ignore[attr-defined]
    # nothing known about the errors: closed, and its text is left as it is
    assert error_issue("paris/carto", [], "en", Renderer(), [], fix).body == ""  # type: ignore[attr-defined]


def test_the_closed_issue_on_the_forge_keeps_the_errors(harness: Harness, city: City) -> None:
    h = harness
    bad = "language: fr\nlabels:\n  extrnal: outside\n"
    h.forge.scenario.push_files(city.repo, "main", city.maintainer, {".github/veilleur.yml": bad})
    h.wait()
    (issue,) = h.issues_titled(city.repo, TITLE)
    assert issue.state == "open" and "veilleur.yml:3" in issue.body
    sha = h.forge.scenario.push_files(
        city.repo, "main", city.maintainer, {".github/veilleur.yml": "language: fr\n"}, "fix"
    )
    h.wait()
    (issue,) = h.issues_titled(city.repo, TITLE)
    assert issue.state == "closed"
    assert "veilleur.yml:3" in issue.body and "extrnal" in issue.body  # the last errors
    assert sha[:12] in issue.body and "Corrigé le" in issue.body  # by which commit, when
    assert h.failures() == []
