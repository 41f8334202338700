"""Latency across hot swaps against steady state, in ONE run: a prediction server (``--pull
500ms``) under open-loop one-row load on ``cancer`` (XGBoost); each round measures a steady
window, then a window in which an alias moves (``cancer`` itself, then ``gbm``, a scikit-learn
pipeline of 100 boosted trees, whose load is heavier) so that the server loads, checks, warms
and swaps a version while answering. Failed requests, p50/p99/max of each window.

    OMP_NUM_THREADS=1 .venv/bin/python -m experiments.serving_swaps --rate 200 --rounds 3 \\
        --python /work/main/.venv/bin/python --python .venv/bin/python

Each ``--python`` is a checkout's interpreter (its tuner); each gets its own registry (the same
fitted models) so that one's swaps never land in the other's window. Writes
``experiments/results/serving_swaps.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from experiments.bench_serving import RESULTS, fit, load, start
from tests.api.server import free_port


def pipeline(seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from experiments.serving_gbm import data

    X, y = data()
    model = make_pipeline(
        StandardScaler(), GradientBoostingClassifier(n_estimators=100, random_state=seed)
    )
    return model.fit(X, y)


def window(url: str, body: Path, rate: float, seconds: float, move: Any = None) -> dict[str, Any]:
    """One open-loop window; ``move`` runs a third of the way in."""
    result: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: result.update(
            load(url, body, "--rate", str(rate), "--seconds", str(seconds))
        )
    )
    thread.start()
    if move is not None:
        time.sleep(seconds / 3)
        move()
    thread.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", required=True, help="a checkout's Python")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from tuner.models.store import ArtifactStore
    from tuner.registry import ModelRegistry
    from tuner.storage import Storage

    home = Path(tempfile.mkdtemp(prefix="serving-swaps-"))
    cancer = [fit(seed, 100) for seed in (0, 1)]
    X = cancer[0][1]
    gbm = [pipeline(seed) for seed in (0, 1)]
    body = home / "one.json"
    body.write_text(json.dumps({"instances": X.to_numpy().tolist()[:1]}))
    servers = []
    try:
        for i, python in enumerate(args.python):
            db = f"sqlite:///{home}/registry{i}.db"
            registry = ModelRegistry(Storage(db), ArtifactStore(str(home / f"store{i}")))
            for name, versions in (("cancer", [m for m, _ in cancer]), ("gbm", gbm)):
                for v, model in enumerate(versions):
                    alias = "production" if v == 0 else None
                    registry.register_model(model, name, example=X, alias=alias)
            port = free_port()
            proc, _ = start(
                [python, "-m", "tuner.cli", "serve-models", "cancer", "gbm", "--db", db,
                 "--store", str(home / f"store{i}"), "--port", str(port), "--no-push",
                 "--pull", "500ms"],
                f"http://127.0.0.1:{port}/readyz", home / f"server{i}.log",
            )  # fmt: skip
            servers.append((python, proc, port, registry))
        found: dict[str, dict[str, list[dict[str, Any]]]] = {p: {} for p in args.python}
        for _, _, port, _ in servers:  # warm-up
            url = f"http://127.0.0.1:{port}/v1/models/cancer:predict"
            window(url, body, args.rate, 2.0)
        for r in range(args.rounds):
            for python, _, port, registry in servers:
                url = f"http://127.0.0.1:{port}/v1/models/cancer:predict"
                for kind in ("steady", "cancer swap", "gbm swap"):
                    move = None
                    if kind != "steady":
                        name = kind.split()[0]
                        to = 2 if r % 2 == 0 else 1

                        def move(name: str = name, to: int = to, reg: Any = registry) -> None:
                            reg.set_alias(name, "production", to, "swap benchmark")

                    point = window(url, body, args.rate, args.seconds, move)
                    found[python].setdefault(kind, []).append(point)
                    print(
                        f"round {r + 1} {python} {kind}: {point['ok']} ok, {point['failed']} "
                        f"failed, p50 {point['p50_ms']} p99 {point['p99_ms']} max "
                        f"{point['max_ms']} ms",
                        flush=True,
                    )
    finally:
        for _, proc, _, registry in servers:
            proc.terminate()
            proc.wait(timeout=30)
            registry.close()
    lines = [
        f"open loop {args.rate:g} req/s one-row on cancer, {args.seconds:g} s windows, "
        f"{args.rounds} rounds (median of the rounds; max: the largest)",
        "| server | window | failed | p50 (ms) | p99 (ms) | max (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for python, kinds in found.items():
        for kind, points in kinds.items():
            lines.append(
                f"| {python} | {kind} | {sum(p['failed'] for p in points)} | "
                f"{statistics.median(p['p50_ms'] for p in points):.2f} | "
                f"{statistics.median(p['p99_ms'] for p in points):.2f} | "
                f"{max(p['max_ms'] for p in points):.2f} |"
            )
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serving_swaps.json").write_text(
        json.dumps({"rounds": found, "table": table}, indent=2)
    )


if __name__ == "__main__":
    main()
