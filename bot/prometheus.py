"""Prometheus metrics. Counters live in-process; queue gauges are read from the database
at scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOKS_REJECTED = Counter(
    "veilleur_webhooks_rejected_total", "Webhooks refused at intake.", ["reason"], registry=REGISTRY
)
DELIVERIES_RECEIVED = Counter(
    "veilleur_deliveries_received_total",
    "Signed deliveries received, by event and intake outcome.",
    ["event", "outcome"],
    registry=REGISTRY,
)
DELIVERIES_PROCESSED = Counter(
    "veilleur_deliveries_processed_total",
    "Delivery processing attempts by result (done, failed, dead).",
    ["result"],
    registry=REGISTRY,
)
PROCESSING_SECONDS = Histogram(
    "veilleur_delivery_processing_seconds",
    "Time to run every handler of one delivery.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
GITHUB_CALLS = Counter(
    "veilleur_github_api_calls_total",
    "GitHub API calls made, by HTTP status.",
    ["status"],
    registry=REGISTRY,
)
RATE_LIMIT_REMAINING = Gauge(
    "veilleur_github_rate_limit_remaining",
    "Last seen x-ratelimit-remaining, per installation.",
    ["installation"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "veilleur_queue_depth", "Deliveries waiting to be processed.", registry=REGISTRY
)
QUEUE_OLDEST_AGE = Gauge(
    "veilleur_queue_oldest_age_seconds",
    "Age of the oldest delivery still waiting.",
    registry=REGISTRY,
)
DELIVERIES_BY_STATUS = Gauge(
    "veilleur_deliveries", "Stored deliveries by status.", ["status"], registry=REGISTRY
)
GITHUB_RETRIES = Counter(
    "veilleur_github_api_retries_total",
    "GitHub API calls retried in place, by fault: server_error, timeout, connection, rate_limited.",
    ["reason"],
    registry=REGISTRY,
)
WORKER_RESTARTS = Counter(
    "veilleur_worker_restarts_total",
    "Worker processes started again, by reason: overrun (killed past the time limit),"
    " not_started (no runtime within its start limit), exited.",
    ["reason"],
    registry=REGISTRY,
)
DELIVERY_LATENCY = Histogram(
    "veilleur_delivery_latency_seconds",
    "From receipt of a webhook to the end of its processing (done, failed or dead).",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
    registry=REGISTRY,
)
REDELIVERIES_REQUESTED = Counter(
    "veilleur_redeliveries_requested_total",
    "Deliveries a forge was asked to send again (GitHub: failed there, or missing here; "
    "reason gitlab: GitLab saw it fail).",
    ["reason"],
    registry=REGISTRY,
)
SCALEOUT_JOBS = Counter(
    "veilleur_queue_jobs_total",
    "Queue-engine jobs run by this worker process, by task and outcome.",
    ["task", "outcome"],
    registry=REGISTRY,
)
