"""Webhook intake: signatures, storage of every real payload, duplicates, limits, health."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.intake.endpoint import (
    MAX_BODY_BYTES,
    _read_body,
    _TooLarge,
    row_from_body,
    row_from_payload,
)
from bot.storage import payloads
from bot.storage.db import make_engine
from bot.storage.models import Delivery, DeliveryStatus
from tests.conftest import SECRET, example_payloads, make_settings, sign, webhook_headers

EXAMPLES = example_payloads()


def client_for(db_url: str, **overrides: object) -> TestClient:
    settings = make_settings(db_url, **overrides)
    return TestClient(create_app(settings, run_worker=False))


@pytest.fixture(params=["process", "thread"])
def client(db_url: str, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """Both writers: a process of its own (the default with SQLite) and a thread."""
    with client_for(db_url, intake_writer=request.param) as c:
        yield c


def stored(db_url: str) -> list[Delivery]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            return list(s.exec(select(Delivery)).all())
    finally:
        engine.dispose()


def post(client: TestClient, event: str, body: bytes, **kw: str) -> tuple[int, str]:
    headers = webhook_headers(event, body, **kw)
    r = client.post("/webhooks/github", content=body, headers=headers)
    return r.status_code, headers["X-GitHub-Delivery"]


def test_examples_cover_every_event() -> None:
    events = {e for e, _, _ in EXAMPLES}
    assert len(EXAMPLES) == 166 and len(events) >= 28


def test_every_real_payload_is_stored(client: TestClient, db_url: str) -> None:
    expected = {}
    for event, _stem, path in EXAMPLES:
        body = path.read_bytes()
        payload = json.loads(body)
        status, guid = post(client, event, body)
        if event == "ping":
            assert status == 200
            continue
        assert status == 202, (event, path.name)
        inst = payload.get("installation")
        expected[guid] = (event, payload.get("action"), inst.get("id") if inst else None, body)
    rows = {d.guid: d for d in stored(db_url)}
    assert set(rows) == set(expected)
    for guid, (event, action, inst, body) in expected.items():
        row = rows[guid]
        assert (row.event, row.action, row.installation_id) == (event, action, inst)
        assert row.status == DeliveryStatus.RECEIVED and row.received_at is not None
        assert row.payload[:4] == payloads.MAGIC  # stored compressed
        assert payloads.unpack(row.payload) == body  # and kept whole, byte for byte


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no signature
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},  # wrong
        {"X-Hub-Signature": "sha1=0000000000000000000000000000000000000000"},  # SHA-1 only
        {"X-Hub-Signature-256": "sha1=abc"},  # wrong scheme
    ],
    ids=["missing", "wrong", "sha1-only", "wrong-scheme"],
)
def test_bad_signatures_are_refused_and_nothing_is_written(
    client: TestClient, db_url: str, headers: dict[str, str]
) -> None:
    body = b'{"action":"opened"}'
    base = {"X-GitHub-Event": "issues", "X-GitHub-Delivery": str(uuid.uuid4())}
    r = client.post("/webhooks/github", content=body, headers={**base, **headers})
    assert r.status_code == 401
    assert stored(db_url) == []


def test_signature_with_other_secret_refused(client: TestClient, db_url: str) -> None:
    status, _ = post(client, "issues", b"{}", secret="not-the-secret")
    assert status == 401 and stored(db_url) == []


def test_rotated_secrets_are_all_accepted(sqlite_url: str) -> None:
    with client_for(sqlite_url, webhook_secret="new-secret, " + SECRET) as c:
        assert post(c, "issues", b"{}", secret=SECRET)[0] == 202
        assert post(c, "issues", b"{}", secret="new-secret")[0] == 202
        assert post(c, "issues", b"{}", secret="retired")[0] == 401
    assert len(stored(sqlite_url)) == 2


def test_no_secret_configured_refuses_everything(sqlite_url: str) -> None:
    with client_for(sqlite_url, webhook_secret="") as c:
        for secret in (SECRET, ""):
            body = b"{}"
            headers = {
                "X-GitHub-Event": "issues",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": sign(body, secret),
            }
            assert c.post("/webhooks/github", content=body, headers=headers).status_code == 401
    assert stored(sqlite_url) == []


def test_missing_headers_and_bad_json(client: TestClient, db_url: str) -> None:
    body = b'{"a": 1}'
    no_event = {"X-GitHub-Delivery": "g1", "X-Hub-Signature-256": sign(body)}
    assert client.post("/webhooks/github", content=body, headers=no_event).status_code == 400
    no_guid = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": sign(body)}
    assert client.post("/webhooks/github", content=body, headers=no_guid).status_code == 400
    assert post(client, "issues", b"not json{")[0] == 400
    assert post(client, "issues", b"[1, 2]")[0] == 400
    assert post(client, "issues", b"")[0] == 400
    assert post(client, "issues", b'{"title": "\xff"}')[0] == 400  # not UTF-8
    assert stored(db_url) == []


def test_only_post_is_routed(client: TestClient) -> None:
    assert client.get("/webhooks/github").status_code == 405


def test_row_fields_read_lazily_match_the_parsed_payload() -> None:
    """The intake reads its few fields with simdjson without building the payload; the result
    must be what reading the whole parsed payload gives, on every real example."""
    now = datetime(2026, 11, 23, tzinfo=UTC)
    for event, _stem, path in EXAMPLES:
        body = path.read_bytes()
        lazy = row_from_body("g", event, body, now)
        parsed = row_from_payload("g", event, body, json.loads(body), now)
        assert lazy == parsed, path
    assert sum(1 for e, _, p in EXAMPLES if row_from_body("g", e, p.read_bytes(), now).item_number)
    odd = b'{"action": 3, "installation": {"id": "12"}, "number": true, "repository": []}'
    row = row_from_body("g", "issues", odd, now)
    assert (row.action, row.installation_id, row.item_number, row.repo_full_name) == (None,) * 4


async def test_a_body_over_the_limit_is_not_read_whole() -> None:
    chunks = [{"type": "http.request", "body": b"x" * 1000, "more_body": True}] * 100
    calls = 0

    async def receive() -> dict[str, object]:
        nonlocal calls
        calls += 1
        return chunks[calls - 1]

    with pytest.raises(_TooLarge):
        await _read_body(receive, 4500)
    assert calls == 5


def test_oversized_body_is_refused(sqlite_url: str) -> None:
    body = b'{"pad": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}'
    with client_for(sqlite_url) as c:
        assert post(c, "issues", body)[0] == 413
    assert stored(sqlite_url) == []


def test_ping_answers_200_and_stores_nothing(client: TestClient, db_url: str) -> None:
    body = (next(p for e, _, p in EXAMPLES if e == "ping")).read_bytes()
    assert post(client, "ping", body)[0] == 200
    assert stored(db_url) == []


def test_duplicate_guid(client: TestClient, db_url: str) -> None:
    body = b'{"action": "opened"}'
    guid = str(uuid.uuid4())
    assert post(client, "issues", body, guid=guid)[0] == 202
    assert post(client, "issues", body, guid=guid)[0] == 202  # still pending: nothing new
    assert len(stored(db_url)) == 1

    engine = make_engine(db_url)
    with Session(engine) as s:
        row = s.get(Delivery, guid)
        assert row is not None
        row.status = DeliveryStatus.DONE
        s.add(row)
        s.commit()
    assert post(client, "issues", body, guid=guid)[0] == 200  # processed: do nothing more

    with Session(engine) as s:
        row = s.get(Delivery, guid)
        assert row is not None
        row.status, row.attempts = DeliveryStatus.FAILED, 3
        s.add(row)
        s.commit()
    assert post(client, "issues", body, guid=guid)[0] == 202  # failed: process it again
    with Session(engine) as s:
        row = s.get(Delivery, guid)
        assert row is not None and row.status == DeliveryStatus.RECEIVED and row.attempts == 0
    engine.dispose()


def test_health_ready_metrics(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    post(client, "issues", b"{}")
    text = client.get("/metrics").text
    assert "veilleur_deliveries_received_total" in text
    assert 'veilleur_deliveries{status="received"} 1.0' in text
    assert "veilleur_queue_depth 1.0" in text


def test_webhooks_behind_a_path_prefix(sqlite_url: str) -> None:
    """Served ahead of the middleware stack, the route still honours the ASGI root_path."""
    settings = make_settings(sqlite_url)
    with TestClient(create_app(settings, run_worker=False), root_path="/veilleur") as c:
        body = b'{"action": "opened"}'
        headers = webhook_headers("issues", body)
        assert c.post("/webhooks/github", content=body, headers=headers).status_code == 202
        assert c.get("/healthz").status_code == 200
    assert len(stored(sqlite_url)) == 1
