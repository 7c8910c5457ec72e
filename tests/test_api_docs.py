# SPDX-License-Identifier: EUPL-1.2
"""API docs that work offline: no page depends on a CDN; the OpenAPI description is served,
the same under `python -OO` (as `veilleur serve` runs: bot/heap.py), which drops docstrings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from bot.app import create_app
from bot.settings import Settings
from tests.web_fixtures import web_factory as web_factory  # noqa: F401 (fixture)


def test_no_page_loads_scripts_from_elsewhere_and_the_description_is_served(
    web_factory: Any,  # noqa: F811
) -> None:
    client = web_factory().client
    for path in ("/docs", "/redoc"):  # FastAPI's pages load swagger-ui/redoc from a CDN
        assert client.get(path).status_code == 404
    spec = client.get("/openapi.json")
    assert spec.status_code == 200 and spec.json()["info"]["title"] == "Veilleur"


OPENAPI = """
import json
from bot.app import create_app
from bot.settings import Settings
app = create_app(Settings(webhook_secret="s", database_url="sqlite://"), run_worker=False,
                 migrate=False)
print(json.dumps(app.openapi()))
"""


def test_the_api_description_is_the_same_without_docstrings() -> None:
    app = create_app(
        Settings(webhook_secret="s", database_url="sqlite://"), run_worker=False, migrate=False
    )
    here = app.openapi()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VEILLEUR_", "PYTHONOPT"))}
    out = subprocess.run(
        [sys.executable, "-OO", "-c", OPENAPI], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(out.stdout) == here
    assert here["paths"]["/api/orgs"]["get"]["description"]  # and there is one to lose
