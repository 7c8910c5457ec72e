"""Observability end to end: every Prometheus metric moves when it should (scraped from
`/metrics`), and JSON log lines carry the delivery GUID and installation, never a secret."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.logs import JsonFormatter
from tests.harness import City, Harness

TEXT = "The map of the city does not load on my phone since the last update. Could you look?"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(h: Harness) -> Samples:
    base = h.forge.webhook_url.removesuffix("/webhooks/github")  # type: ignore[union-attr]
    text = httpx.get(f"{base}/metrics").text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_move_with_an_end_to_end_run(harness: Harness, city: City) -> None:
    h = harness
    before = scrape(h)
    base = h.forge.webhook_url
    assert base
    bad = httpx.post(base, content=b"{}", headers={"X-Hub-Signature-256": "sha256=00"})
    assert bad.status_code == 401
    h.forge.inject("GET", r"/community/profile$", status=502)
    n = h.forge.scenario.open_issue(city.repo, city.citizen_en, "Map is broken", TEXT)
    h.wait()
    assert n and h.failures() == []
    after = scrape(h)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("veilleur_webhooks_rejected_total", reason="signature") == 1
    assert grew("veilleur_deliveries_received_total", event="issues", outcome="new") >= 1
    assert grew("veilleur_deliveries_processed_total", result="done") >= 2  # + the bot's echoes
    assert grew("veilleur_delivery_processing_seconds_count") >= 2
    assert grew("veilleur_delivery_latency_seconds_count") >= 2
    assert grew("veilleur_github_api_calls_total", status="200") >= 5
    assert grew("veilleur_github_api_calls_total", status="502") == 1
    assert grew("veilleur_github_api_retries_total", reason="server_error") == 1
    installation = str(h.forge.events("issues", "opened")[-1].installation_id)
    remaining = value(after, "veilleur_github_rate_limit_remaining", installation=installation)
    assert 0 < remaining < h.forge.rate_limit
    assert value(after, "veilleur_queue_depth") == 0
    assert value(after, "veilleur_queue_oldest_age_seconds") == 0
    assert value(after, "veilleur_deliveries", status="done") >= 3


@pytest.fixture
def json_logs() -> Iterator[tuple[io.StringIO, list[tuple[str, str]]]]:
    """Every log line as Veilleur writes it (JSON, DEBUG and up), with the emitting thread."""
    out, threads = io.StringIO(), []

    class Capture(logging.StreamHandler):  # type: ignore[type-arg]
        def emit(self, record: logging.LogRecord) -> None:
            threads.append((threading.current_thread().name, record.name))
            super().emit(record)

    handler = Capture(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out, threads
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_logs_carry_the_delivery_and_never_a_secret(
    harness: Harness, city: City, json_logs: tuple[io.StringIO, list[tuple[str, str]]]
) -> None:
    h, forge = harness, harness.forge
    out, threads = json_logs
    forge.inject("POST", r"/issues/\d+/labels$", status=503)  # a warning path too
    n = forge.scenario.open_issue(city.repo, city.citizen_en, "Map is broken", TEXT)
    h.wait()
    forge.scenario.comment(city.repo, n, city.maintainer, "Thanks!\n\n/label +urgent")
    h.wait()
    lines: list[dict[str, Any]] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == len(threads) and len(lines) > 50

    # while a delivery is processed (the worker thread), every line names it and its installation
    processing = [
        line
        for line, (thread, logger) in zip(lines, threads, strict=True)
        if thread == "worker" and not logger.startswith(("apscheduler", "bot.queue.worker"))
    ]
    assert processing
    assert all(line["delivery"] and line["installation"] for line in processing), [
        line for line in processing if not (line["delivery"] and line["installation"])
    ][:3]
    assert any(line["logger"] == "bot.effects.executor" for line in processing)

    text = out.getvalue()
    pem_lines = [ln for ln in forge.private_key_pem.splitlines() if ln and "-----" not in ln]
    secrets = [*forge.tokens, forge.webhook_secret, *pem_lines[:3]]
    assert forge.tokens  # the run did use installation tokens
    assert [s for s in secrets if s in text] == []
    assert "PRIVATE KEY" not in text and "eyJ" not in text  # no PEM, no JWT
