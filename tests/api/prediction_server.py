"""A real ``tuner serve-models`` in a child process on a free loopback port, and a registry of
test models (an XGBoost classifier and a scikit-learn pipeline) for it to serve."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.api.server import free_port
from tests.conftest import REPO
from tuner.models.store import ArtifactStore
from tuner.registry import ModelRegistry
from tuner.storage import Storage
from tuner.testing import FlavorConformance


def fit_models() -> dict[str, Any]:
    """Two XGBoost versions of ``churn`` and a scikit-learn pipeline ``fraud`` (one-hot,
    scaler, logistic regression: the sklearn flavor's skops refuses tree ensembles' types), on
    the flavor suite's data (three numbers and a category)."""
    import xgboost as xgb
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = FlavorConformance.data()
    churn = [
        xgb.XGBClassifier(n_estimators=n, max_depth=3, enable_categorical=True).fit(X, y)
        for n in (10, 30)
    ]
    encode = ColumnTransformer(
        [
            ("colour", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
            ("numbers", StandardScaler(), ["a", "b", "c"]),
        ]
    )
    fraud = Pipeline([("encode", encode), ("model", LogisticRegression())])
    plain = X.assign(colour=X["colour"].astype(str))
    return {"X": X, "y": y, "churn": churn, "fraud": fraud.fit(plain, y), "plain": plain}


def make_registry(
    db: str, store: Path, fitted: dict[str, Any], project: str = "default"
) -> ModelRegistry:
    """``churn`` versions 1 (production) and 2, ``fraud`` version 1 (production)."""
    registry = ModelRegistry(Storage(db), ArtifactStore(str(store)), project, actor="test")
    X = fitted["X"]
    registry.register_model(
        fitted["churn"][0], "churn", example=X, metrics={"auc": 0.9}, alias="production"
    )
    registry.register_model(fitted["churn"][1], "churn", example=X, metrics={"auc": 0.95})
    registry.register_model(
        fitted["fraud"], "fraud", example=fitted["plain"], metrics={"auc": 0.9}, alias="production"
    )
    return registry


def corrupt_version(registry: ModelRegistry, model: str) -> int:
    """Register a copy of the latest version of ``model`` and corrupt its model file in the
    store: it loads no more (its checksum fails)."""
    latest = registry.versions(model)[0]
    folder = registry.store.fetch(latest.uri, latest.digest)
    added = registry.register(model, folder).version
    for path in Path(added.uri).rglob("*"):
        if path.is_file() and path.name != "MANIFEST.json":
            path.chmod(0o644)
            path.write_bytes(b"not a model")
    return added.version


class PredictionServer:
    """``tuner serve-models`` in a child process; ``readiness`` records the /readyz answers
    seen while it started (503 until loaded and warm)."""

    def __init__(self, db: str, store: Path, home: Path, *args: str, grpc: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.grpc_port = free_port() if grpc else None
        grpc_args = ("--grpc-port", str(self.grpc_port)) if grpc else ()
        self.args = ("--db", db, "--store", str(store), "--port", str(self.port), *args, *grpc_args)
        self.log = home / f"serve-models-{self.port}.log"
        self.env = {**os.environ, "OMP_NUM_THREADS": "1", "TUNER_CONFIG_DIR": str(home)}
        self.proc: subprocess.Popen[str] | None = None
        self.readiness: list[int] = []

    def start(self, timeout: float = 180) -> PredictionServer:
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tuner.cli", "serve-models", *self.args],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                status = httpx.get(f"{self.url}/readyz", timeout=2).status_code
                self.readiness.append(status)
                if status == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the prediction server did not get ready:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)

    def model(self, name: str) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/v1/models/{name}", timeout=5).json())

    def wait_for(self, name: str, test: Any, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.model(name)
            if test(state):
                return state
            time.sleep(0.1)
        raise AssertionError(f"{name}: {self.model(name)}\n{self.log.read_text()[-3000:]}")


class Load:
    """Clients sending one-row v2 requests in a loop until stopped: every answer's status and
    served version, and every transport failure, are counted."""

    def __init__(self, url: str, model: str, row: dict[str, Any], clients: int = 4) -> None:
        self.url = f"{url}/v2/models/{model}/infer"
        self.body = {
            "inputs": [
                {
                    "name": k,
                    "shape": [1],
                    "datatype": "BYTES" if isinstance(v, str) else "FP64",
                    "data": [v],
                }
                for k, v in row.items()
            ]
        }
        self.stop_event = threading.Event()
        self.statuses: Counter[int] = Counter()
        self.versions: list[str] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop_event.is_set():
                try:
                    r = client.post(self.url, json=self.body)
                except httpx.HTTPError as exc:
                    with self.lock:
                        self.failures.append(repr(exc))
                    continue
                with self.lock:
                    self.statuses[r.status_code] += 1
                    if r.status_code == 200:
                        self.versions.append(r.json()["model_version"])
                    else:
                        self.failures.append(r.text)

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=30)
