# SPDX-License-Identifier: EUPL-1.2
"""API docs that work offline: no page depends on a CDN; the OpenAPI description is served."""

from __future__ import annotations

from typing import Any

from tests.web_fixtures import web_factory as web_factory  # noqa: F401 (fixture)


def test_no_page_loads_scripts_from_elsewhere_and_the_description_is_served(
    web_factory: Any,  # noqa: F811
) -> None:
    client = web_factory().client
    for path in ("/docs", "/redoc"):  # FastAPI's pages load swagger-ui/redoc from a CDN
        assert client.get(path).status_code == 404
    spec = client.get("/openapi.json")
    assert spec.status_code == 200 and spec.json()["info"]["title"] == "Veilleur"
