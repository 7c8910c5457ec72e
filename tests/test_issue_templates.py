"""Missing information: template text left untouched and skipped issue-form fields count as
nothing; the repository's own templates are the reference. The pure triage plan, from the real
`issues.opened` payload, and once over the simulated forge (templates served by its contents
API)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.config.schema import VeilleurConfig
from bot.messages.templating import Renderer, T
from bot.record.people import Classification
from handlers.issue_templates import GITHUB_DEFAULT_BUG_REPORT, Scaffolding
from handlers.triage import TriageInput, plan
from tests.conftest import WEBHOOK_EXAMPLES
from tests.harness import seed_city

REQUEST_INFO = f"veilleur-template:{T.REQUEST_INFO_ISSUE}/"
PARIS = ZoneInfo("Europe/Paris")

UNTOUCHED_BUG = GITHUB_DEFAULT_BUG_REPORT.split("---\n", 2)[2]  # what GitHub puts in the body
FILLED_BUG = UNTOUCHED_BUG.replace(
    "A clear and concise description of what the bug is.",
    "The map of the city stays grey on Firefox when zooming in on the 11th district.",
)
FORM = """\
name: Signaler un bogue
description: Quelque chose ne marche pas
body:
  - type: markdown
    attributes:
      value: Merci de prendre le temps de signaler ce problème !
  - type: textarea
    id: what
    attributes:
      label: Que s'est-il passé ?
      value: "Décrivez ce que vous avez vu, et ce que vous attendiez."
    validations:
      required: true
  - type: input
    id: version
    attributes:
      label: Version
"""
SKIPPED_FORM = """\
### Que s'est-il passé ?

Décrivez ce que vous avez vu, et ce que vous attendiez.

### Version

_No response_
"""
OWN_TEMPLATE = """\
---
name: Anomalie
about: Signaler une anomalie
---
## Description
Décrivez ici l'anomalie rencontrée, avec le plus de détails possible.

## Étapes pour reproduire
Indiquez les étapes qui mènent au problème.
"""


def _payload() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (WEBHOOK_EXAMPLES / "issues" / "opened.payload.json").read_text()
    )
    return data


def _input(body: str, templates: tuple[str, ...] = (), **cfg: Any) -> TriageInput:
    raw = _payload()["issue"]
    return TriageInput(
        repo=_payload()["repository"]["full_name"],
        number=raw["number"],
        is_pull=False,
        title=raw["title"],
        body=body,
        author=raw["user"]["login"],
        author_class=Classification("external"),
        first_time=False,
        lang="en",
        config=VeilleurConfig.model_validate(cfg),
        templates=templates,
    )


def _asks(inp: TriageInput) -> bool:
    return any(
        REQUEST_INFO in getattr(a, "body", "") for a in plan(inp, Renderer())
    )  # the request-info comment


def test_githubs_default_bug_template_untouched_is_incomplete() -> None:
    assert _asks(_input(UNTOUCHED_BUG))
    assert not _asks(_input(FILLED_BUG))


def test_a_form_answered_no_response_is_incomplete() -> None:
    required = {"request_info": {"required_sections": ["Version"], "min_body_chars": 1}}
    assert _asks(_input(SKIPPED_FORM, (FORM,), **required))
    answered = SKIPPED_FORM.replace("_No response_", "2.4.1")
    assert not _asks(_input(answered, (FORM,), **required))
    # the form's prefilled value is a placeholder only when the repository's form says so
    assert _asks(_input(SKIPPED_FORM, (FORM,)))
    assert not _asks(_input(SKIPPED_FORM))


def test_the_repositorys_own_template_is_the_reference() -> None:
    untouched = OWN_TEMPLATE.split("---\n", 2)[2]
    assert _asks(_input(untouched, (OWN_TEMPLATE,)))
    assert not _asks(_input(untouched))  # without the reference, the text looks written
    written = untouched.replace(
        "Indiquez les étapes qui mènent au problème.",
        "Ouvrir la carte, zoomer sur le 11e arrondissement : la carte reste grise.",
    )
    assert not _asks(_input(written, (OWN_TEMPLATE,)))


def test_a_large_body_keeps_every_written_line() -> None:
    scaffolding = Scaffolding.of([OWN_TEMPLATE, FORM])
    body = ("_No response_\n" + "x" * 50 + "\n") * 20_000
    stripped = scaffolding.strip(body)
    assert stripped.count("x" * 50) == 20_000 and "_No response_" not in stripped


def test_an_untouched_form_on_the_forge_gets_one_request(harness_factory: Any, forge: Any) -> None:
    city = seed_city(forge)
    forge.add_repo(
        "paris/carto",
        description="Carte",
        files={".github/ISSUE_TEMPLATE/bogue.yml": FORM, "README.md": "# Carte\n"},
    )
    h = harness_factory()
    forge.scenario.install(city.org)
    h.wait()
    h.clock.set(datetime(2026, 3, 2, 10, tzinfo=PARIS))
    n = forge.scenario.open_issue("paris/carto", city.citizen_fr, "Carte grise", SKIPPED_FORM)
    h.wait()
    asked = [c for c in h.comments("paris/carto", n) if REQUEST_INFO in c.body]
    assert len(asked) == 1
    assert "awaiting-author" in h.labels("paris/carto", n)
    h.sweep(datetime(2026, 3, 2, 10, tzinfo=PARIS) + timedelta(days=7))
    assert not [c for c in h.comments("paris/carto", n) if "veilleur-template:reminder/" in c.body]
