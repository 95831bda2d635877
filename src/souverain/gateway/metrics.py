"""Prometheus metrics of the gateway, in a registry of the app's own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Human review waits minutes to days: from a minute to a week.
_REVIEW_BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600, 72 * 3600, 7 * 24 * 3600)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["tenant", "model", "backend"]
        self.requests = Counter(
            "souverain_requests",
            "Model calls by outcome: `ok`, or the error code (backend empty when none answered).",
            [*labels, "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "souverain_request_duration_seconds",
            "Time from request to the end of the response.",
            [*labels, "endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.time_to_first_token = Histogram(
            "souverain_time_to_first_token_seconds",
            "Time from request to the first streamed chunk.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "souverain_tokens", "Tokens processed.", [*labels, "kind"], registry=self.registry
        )
        self.backend_failures = Counter(
            "souverain_backend_failures",
            "Failed attempts on a backend.",
            ["backend", "reason"],
            registry=self.registry,
        )
        self.circuit_open = Gauge(
            "souverain_backend_circuit_open",
            "1 while a backend's circuit is open.",
            ["backend"],
            registry=self.registry,
        )
        self.reviews_held = Counter(
            "souverain_reviews_held",
            "Outputs held for human review.",
            ["tenant", "use_case"],
            registry=self.registry,
        )
        self.review_wait = Histogram(
            "souverain_review_wait_seconds",
            "Time an output waited for its review: until approved, edited, rejected or expired.",
            ["tenant", "use_case", "decision"],
            buckets=_REVIEW_BUCKETS,
            registry=self.registry,
        )
