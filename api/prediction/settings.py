"""What a prediction server is told: which models, from which database and project, where to
listen, and how it hears of new versions."""

from __future__ import annotations

from dataclasses import dataclass

from tuner.api.prediction.batching import BatchPolicy
from tuner.projects import DEFAULT_PROJECT

DEFAULT_PORT = 8500
DEFAULT_MAX_BODY = 16 << 20  # bytes: 256-row batches of hundreds of features fit many times
# batching (measured in experiments/bench_serving.py, README "Online prediction"): requests that
# arrive together are scored together, none waits for company (a wait of 200us or 1 ms lost)
DEFAULT_BATCH_WAIT = 0.0  # seconds
DEFAULT_MAX_BATCH = 64  # rows; 1: no batching


@dataclass(frozen=True)
class PredictionSettings:
    """``models``: references (``churn``, ``churn@staging``, ``churn:3``); ``project``: the
        registry project they belong to (the ``read`` token's, when one is given); ``store``: the
        artifact store URL (None: the registry's default); ``pull_seconds``: 0 for no polling;
        ``push``: listen for alias moves (PostgreSQL); ``batch_wait`` (seconds) and ``max_batch``
    (rows, 1 for none): adaptive batching of concurrent small requests (``batching``)."""

    database_url: str
    models: tuple[str, ...]
    project: str = DEFAULT_PROJECT
    store: str | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    grpc_port: int | None = None
    pull_seconds: float = 0.0
    push: bool = True
    max_body_bytes: int = DEFAULT_MAX_BODY
    workers: int = 1
    access_log: bool = False
    batch_wait: float = DEFAULT_BATCH_WAIT
    max_batch: int = DEFAULT_MAX_BATCH

    @property
    def batching(self) -> BatchPolicy:
        return BatchPolicy(self.batch_wait, self.max_batch)
