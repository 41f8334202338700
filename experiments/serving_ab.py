"""A/B of two checkouts of the prediction server on 256-row batches, in ONE run: both servers up
at once on the same registry (the breast-cancer XGBoost model of ``bench_serving``), measured in
turn, round after round, so that the machine's load falls on both alike; the answer is the
ratio of B to A, which a shared, loaded machine keeps far better than absolute figures.

    OMP_NUM_THREADS=1 .venv/bin/python -m experiments.serving_ab \\
        --a /work/main/.venv/bin/python --b .venv/bin/python --rounds 3 --seconds 3

Bodies (256 rows of 30 float features): KServe v1 ``instances`` as arrays and as objects, a v2
REST tensor ``[256, 30]`` (FP64), and v2 gRPC ``ModelInfer`` with ``raw_input_contents``
(FP32, what ``tritonclient`` sends); and one-row v1 requests over 8 connections, to see that
they lost nothing. HTTP load: ``experiments.serving_load`` closed loop, 4
connections, in its own process; gRPC: 4 threads of blocking calls in this one. Also checks
that both servers answer the same predictions. Prints a table of rows/s (the median of the
rounds) and writes ``experiments/results/serving_ab.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from experiments.bench_serving import RESULTS, fit, load, start
from tests.api.server import free_port

ROWS = 256
ONE = "v1 one row (8 connections)"  # no regression for one-row requests: rows/s = req/s
V1 = "/v1/models/cancer:predict"


def bodies(home: Path, X: Any) -> dict[str, Path]:
    """The HTTP bodies of one 256-row batch, by label."""
    arrays = (X.to_numpy().tolist() * 2)[:ROWS]
    objects = (X.to_dict(orient="records") * 2)[:ROWS]
    flat = np.asarray(arrays).reshape(-1).tolist()
    tensor = {"name": "x", "shape": [ROWS, len(X.columns)], "datatype": "FP64", "data": flat}
    out = {
        "v1 arrays": {"instances": arrays},
        "v1 objects": {"instances": objects},
        "v2 REST tensor": {"inputs": [tensor]},
        ONE: {"instances": arrays[:1]},
    }
    paths = {}
    for label, body in out.items():
        paths[label] = home / f"{label.replace(' ', '-')}.json"
        paths[label].write_text(json.dumps(body))
    return paths


def grpc_rows_per_s(port: int, matrix: np.ndarray, seconds: float, threads: int = 4) -> float:
    """Closed loop of ``ModelInfer`` calls (raw FP32 contents) from ``threads`` threads."""
    import grpc

    from tuner.api.prediction.grpc_v2 import grpc_predict_v2_pb2 as pb
    from tuner.api.prediction.grpc_v2 import grpc_predict_v2_pb2_grpc as pb_grpc

    request = pb.ModelInferRequest(model_name="cancer")
    request.inputs.add(name="x", datatype="FP32", shape=list(matrix.shape))
    request.raw_input_contents.append(matrix.astype(np.float32).tobytes())
    done = [0] * threads
    end = time.perf_counter() + seconds

    def run(i: int) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            stub.ModelInfer(request)  # connect
            while time.perf_counter() < end:
                stub.ModelInfer(request)
                done[i] += 1

    began = time.perf_counter()
    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(done) * ROWS / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", required=True, help="the Python of checkout A (its tuner)")
    parser.add_argument("--b", required=True, help="the Python of checkout B")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    from tuner.models.store import ArtifactStore
    from tuner.registry import ModelRegistry
    from tuner.storage import Storage

    home = Path(tempfile.mkdtemp(prefix="serving-ab-"))
    db = f"sqlite:///{home}/registry.db"
    registry = ModelRegistry(Storage(db), ArtifactStore(str(home / "store")), actor="ab")
    model, X = fit(0, 100)
    registry.register_model(model, "cancer", example=X, alias="production")
    registry.close()
    paths = bodies(home, X)
    servers: dict[str, tuple[subprocess.Popen[bytes], int, int]] = {}
    try:
        for name, python in (("A", args.a), ("B", args.b)):
            port, grpc_port = free_port(), free_port()
            proc, _ = start(
                [python, "-m", "tuner.cli", "serve-models", "cancer", "--db", db, "--store",
                 str(home / "store"), "--port", str(port), "--grpc-port", str(grpc_port)],
                f"http://127.0.0.1:{port}/readyz", home / f"{name}.log",
            )  # fmt: skip
            servers[name] = (proc, port, grpc_port)
        answers = [
            httpx.post(
                f"http://127.0.0.1:{port}/v1/models/cancer:predict",
                content=paths["v1 arrays"].read_bytes(),
            ).json()["predictions"]
            for _, port, _ in servers.values()
        ]
        same = answers[0] == answers[1]
        matrix = (X.to_numpy().tolist() * 2)[:ROWS]
        found: dict[str, dict[str, list[float]]] = {s: {} for s in servers}
        for _, port, grpc_port in servers.values():  # warm-up
            url = f"http://127.0.0.1:{port}/v1/models/cancer:predict"
            load(url, paths["v1 arrays"], "--closed", "--connections", "4", "--seconds", "1")
            grpc_rows_per_s(grpc_port, np.asarray(matrix), 1.0)
        for r in range(args.rounds):
            for name, (_, port, grpc_port) in servers.items():
                for label, path in paths.items():
                    route = (
                        "/v2/models/cancer/infer" if "v2" in label else "/v1/models/cancer:predict"
                    )
                    point = load(
                        f"http://127.0.0.1:{port}{route}", path, "--closed", "--connections",
                        "8" if label == ONE else "4", "--seconds", str(args.seconds),
                    )  # fmt: skip
                    if point["failed"]:
                        raise SystemExit(f"{name} {label}: {point['failures']}")
                    rows = 1 if label == ONE else ROWS
                    found[name].setdefault(label, []).append(point["achieved"] * rows)
                rate = grpc_rows_per_s(grpc_port, np.asarray(matrix), args.seconds)
                found[name].setdefault("v2 gRPC raw FP32", []).append(rate)
                print(f"round {r + 1} {name}: " + ", ".join(
                    f"{k} {v[-1]:,.0f}" for k, v in found[name].items()
                ), flush=True)  # fmt: skip
    finally:
        for proc, _, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
    lines = [
        f"same predictions: {same}",
        "| body (256 rows) | A rows/s | B rows/s | B / A |",
        "|---|---|---|---|",
    ]
    result: dict[str, Any] = {"same_predictions": same, "rounds": found}
    for label in found["A"]:
        a, b = statistics.median(found["A"][label]), statistics.median(found["B"][label])
        lines.append(f"| {label} | {a:,.0f} | {b:,.0f} | {b / a:.2f}x |")
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serving_ab.json").write_text(json.dumps({**result, "table": table}, indent=2))


if __name__ == "__main__":
    main()
