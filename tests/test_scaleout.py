"""Scale-out on PostgreSQL: two `veilleur serve --no-worker` replicas and four `veilleur
worker` processes against a fresh schema, the simulated forge (in this process, over HTTP)
injecting 5xx and rate-limit faults, 5,000 signed webhooks replayed round-robin to the
replicas (duplicates raced to both at once, redeliveries later), one worker SIGKILLed in the
middle of a delivery. Asserted on the database and on the forge's state."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.sim import Forge, ForgeServer
from tests.harness import seed_city
from tests.scaleout_load import build_load, check_forge
from tests.scaleout_support import (
    Procs,
    Replay,
    free_port,
    fresh_schema,
    q,
    status_counts,
    veilleur_env,
    wait_until,
)

pytestmark = pytest.mark.postgres

RECEIVED = "veilleur_deliveries_received_total"
WORKER = "--concurrency 4 --heartbeat 1 --stalled-after 4 --reclaim-every 2".split()


def diagnose(url: str, expected: int) -> str:
    """What is left when the deliveries do not all get done: counts, then each one not done
    with its job's state."""
    left = q(
        url,
        "SELECT d.guid, d.status, d.attempts, d.next_attempt_at, d.last_error, "
        "array_agg(j.status::text || ':' || coalesce(j.worker_id::text, '-')) "
        "FROM deliveries d LEFT JOIN procrastinate_jobs j ON j.args->>'guid' = d.guid "
        "WHERE d.status <> 'done' GROUP BY 1, 2, 3, 4, 5 LIMIT 20",
    )
    workers = q(url, "SELECT id, last_heartbeat FROM procrastinate_workers")
    return f"expected {expected}, {status_counts(url)}; not done: {left}; workers: {workers}"


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(httpx.get(url).text)
        for s in family.samples
    }


@pytest.fixture
def cluster(
    forge: Forge, forge_server: ForgeServer, tmp_path: Path, pg_available: bool
) -> Iterator[tuple[str, Procs]]:
    if not pg_available:
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432")
    forge.emit_bot_events = False  # only the replayed deliveries: their count is known
    with fresh_schema() as url:
        procs = Procs(veilleur_env(forge, forge_server.url, url), tmp_path)
        try:
            yield url, procs
        finally:
            procs.stop()


def test_5000_webhooks_two_replicas_four_workers_one_killed(
    forge: Forge, cluster: tuple[str, Procs]
) -> None:
    url, procs = cluster
    city = seed_city(forge)
    # 250 issues by 200 people (150 first-timers), one edit each, 30 same-content copies:
    # 531 distinct deliveries; the other 4,469 webhooks are duplicates and redeliveries.
    load = build_load(
        forge, city, repeaters=50, first_timers=150, issues_each=2, edits=1, copies=30,
        total=5000,
    )  # fmt: skip
    assert load.sent == 5000
    webs = [procs.web("web0", free_port()), procs.web("web1", free_port())]
    procs.worker("w0", *WORKER)
    wait_until(lambda: bool(q(url, "SELECT 1 FROM procrastinate_workers")), 60, "w0 not up")
    victim = q(url, "SELECT max(id) FROM procrastinate_workers")[0][0]
    metrics_port = free_port()
    procs.worker("w1", *WORKER, "--metrics-port", str(metrics_port))
    for i in range(2, 4):
        procs.worker(f"w{i}", *WORKER)
    for method, path, status, times in (
        ("GET", r"/community/profile$", 502, 30),
        ("POST", r"/issues/\d+/labels$", 503, 15),
        ("POST", r"/issues/\d+/comments$", 502, 8),
        ("GET", r"/collaborators/[^/]+/permission$", 500, 8),
    ):
        forge.inject(method, path, status=status, times=times)
    forge.inject("GET", r"/repos/[^/]+/[^/]+/issues$", status=429, retry_after=1, times=4)

    started = time.monotonic()
    sender = Replay(load.chains, webs, forge.webhook_secret)

    # SIGKILL w0 in the middle of a delivery (claimed, not finished): the others take over.
    in_flight: list[str] = []

    def holding() -> bool:
        rows = q(
            url,
            "SELECT d.guid FROM procrastinate_jobs j JOIN deliveries d "
            "ON d.guid = j.args->>'guid' WHERE j.status = 'doing' AND j.worker_id = %s "
            "AND d.status = 'processing'",
            [victim],
        )
        in_flight[:] = [str(g) for (g,) in rows]
        return bool(in_flight)

    # Frozen first (SIGSTOP), so what it holds cannot change between the look and the kill: a
    # delivery it finished in between was not one the others had to take over.
    victim_proc, deadline = procs.procs["w0"], time.monotonic() + 90
    while True:
        wait_until(holding, 90, "the first worker never held a delivery in progress", procs)
        victim_proc.send_signal(signal.SIGSTOP)
        time.sleep(0.3)  # a commit it had already sent lands
        if holding() or time.monotonic() > deadline:
            break
        victim_proc.send_signal(signal.SIGCONT)
    assert in_flight, "the first worker was never stopped while holding a delivery"
    procs.kill("w0", signal.SIGKILL)

    statuses = sender.result()
    assert set(statuses) <= {200, 202}, statuses  # no webhook refused: nothing to redeliver

    def all_done() -> bool:
        st = status_counts(url)
        return st.get("done", 0) == load.guids == sum(st.values())

    try:
        wait_until(all_done, 150, "not all deliveries done", procs)
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}: {diagnose(url, load.guids)}") from None
    elapsed = time.monotonic() - started

    stuck = "SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND worker_id = %s"
    wait_until(lambda: not q(url, stuck, [victim]), 30, "the dead worker's jobs stayed stuck")
    taken_over = q(url, "SELECT status, attempts FROM deliveries WHERE guid = ANY(%s)", [in_flight])
    assert taken_over and all(st == "done" and n >= 2 for st, n in taken_over), taken_over
    logs = "".join(procs.log(f"w{i}") for i in range(1, 4))
    assert "left in progress by a dead worker: released" in logs

    check_forge(forge, city, load)  # one welcome per first-timer, no marked comment twice
    # per item, deliveries were processed in the order they were first received
    done_at = dict(q(url, "SELECT guid, processed_at FROM deliveries"))
    for chain in load.chains[1:]:
        order = list(dict.fromkeys(d.guid for d in chain))
        times = [done_at[g] for g in order]
        assert times == sorted(times), order
    assert sum(r.fault for r in forge.requests) >= 30  # the faults were met, and survived

    # metrics: intake on the replicas, processing on the workers (`--metrics-port`)
    web = [scrape(f"{w}/metrics") for w in webs]
    received = sum(v for s in web for (name, _), v in s.items() if name == RECEIVED)
    assert received == statuses.get(200, 0) + statuses.get(202, 0)
    assert all(s[("veilleur_queue_depth", frozenset())] == 0 for s in web)
    worker = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    done = frozenset({("result", "done")})
    assert worker[("veilleur_deliveries_processed_total", done)] > 0
    jobs = frozenset({("task", "veilleur.delivery"), ("outcome", "done")})
    assert worker[("veilleur_queue_jobs_total", jobs)] > 0
    assert worker[("veilleur_github_api_calls_total", frozenset({("status", "200")}))] > 0
    assert worker[("veilleur_delivery_latency_seconds_count", frozenset())] > 0
    # and no secret in any process's log
    logs = "".join(procs.log(name) for name in procs.procs)
    assert not [s for s in (*forge.tokens, forge.webhook_secret, "PRIVATE KEY") if s in logs]
    print(f"\n5000 webhooks, {load.guids} deliveries: sent in {sender.seconds:.1f} s, "
          f"all processed in {elapsed:.1f} s")  # fmt: skip
