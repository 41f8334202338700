"""The prediction server's Prometheus metrics: requests, errors, rows, latency, and per model the
loaded version, readiness and the outcome of every swap (a refused version shows here).

With ``--workers N`` every worker writes its values to files in one folder
(``$PROMETHEUS_MULTIPROC_DIR``: prometheus_client's multiprocess mode, set by the parent before
the workers start) and any worker's ``/metrics`` reads them all: counters and histograms summed
over the workers, the gauges (version, readiness, refused version) one series per live worker
(a ``pid`` label), so a scrape sees the whole server, and a worker that has not swapped yet.
"""

from __future__ import annotations

import os
from typing import Any

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

# seconds: fine below 10 ms, where the server is meant to answer
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class PredictionMetrics:
    """One registry per app (never the global one), so that apps in one process stay apart."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.shared = os.environ.get(MULTIPROCESS_DIR) or None  # the workers' folder
        each: Any = {"multiprocess_mode": "liveall"} if self.shared else {}
        labels = ["model", "protocol"]
        self.requests = Counter(
            "tuner_prediction_requests", "Prediction requests answered", labels, registry=r
        )
        self.errors = Counter(
            "tuner_prediction_errors",
            "Prediction requests refused or failed, by error code",
            [*labels, "code"],
            registry=r,
        )
        self.rows = Counter("tuner_prediction_rows", "Rows predicted", labels, registry=r)
        self.latency = Histogram(
            "tuner_prediction_latency_seconds",
            "Time to answer a prediction request, parsing to answer",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.version = Gauge(
            "tuner_model_version",
            "The version being served (0: none yet)",
            ["model"],
            registry=r,
            **each,
        )
        self.ready = Gauge(
            "tuner_model_ready",
            "1 once the model is loaded and warm",
            ["model"],
            registry=r,
            **each,
        )
        self.swaps = Counter(
            "tuner_model_swaps",
            "Version loads by outcome: loaded (first), swapped, refused",
            ["model", "outcome"],
            registry=r,
        )
        self.refused = Gauge(
            "tuner_model_refused_version",
            "The last version refused (failed to load or warm; 0: none)",
            ["model"],
            registry=r,
            **each,
        )
        self.batched = Histogram(
            "tuner_prediction_batch_requests",
            "Requests scored together in one model call, when batching is on",
            ["model"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=r,
        )
        self._children: dict[tuple[str, str], tuple[Any, Any, Any]] = {}

    def observe(self, model: str, protocol: str, seconds: float, rows: int) -> None:
        """One answered request (children cached: labels are looked up once)."""
        key = (model, protocol)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(model, protocol),
                self.rows.labels(model, protocol),
                self.latency.labels(model, protocol),
            )
            self._children[key] = children
        requests, rows_counter, latency = children
        requests.inc()
        rows_counter.inc(rows)
        latency.observe(seconds)

    def batch(self, model: str, requests: int) -> None:
        """One model call of ``requests`` batched requests."""
        self.batched.labels(model).observe(requests)

    def error(self, model: str, protocol: str, code: str) -> None:
        self.requests.labels(model, protocol).inc()
        self.errors.labels(model, protocol, code).inc()

    def text(self) -> bytes:
        """The Prometheus text: this process's, or every worker's (multiprocess mode)."""
        from prometheus_client import CollectorRegistry, generate_latest

        if self.shared is None:
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        combined = CollectorRegistry()
        MultiProcessCollector(combined, path=self.shared)
        return generate_latest(combined)


def worker_gone(pid: int) -> None:
    """Drop a stopped worker's gauges from the combined metrics (multiprocess mode)."""
    shared = os.environ.get(MULTIPROCESS_DIR)
    if shared:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, shared)
