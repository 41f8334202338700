"""How long a swap can hold up the thread that answers requests, measured in-process: the
prediction server's ``ServedModels`` swaps a model in a thread (as the pull and push threads
do) while this thread, standing in for the event loop, sleeps 1 ms at a time and records the
longest gap between wake-ups (a wake-up waits for the GIL and for a core). Steady windows of the
same length, without a swap, are the reference. Models: ``cancer`` (XGBoost, 100 trees) and
``gbm`` (a scikit-learn pipeline of 100 boosted trees: skops loading, the array copy, checks).

    OMP_NUM_THREADS=1 .venv/bin/python -m experiments.serving_stalls --swaps 6
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import threading
import time
from pathlib import Path


def longest_gap(seconds: float) -> float:
    """The longest time (ms) between two wake-ups of 1 ms sleeps over ``seconds``."""
    longest, end = 0.0, time.perf_counter() + seconds
    last = time.perf_counter()
    while last < end:
        time.sleep(0.001)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    return 1000 * longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swaps", type=int, default=6, help="swaps per model")
    args = parser.parse_args()
    from experiments.bench_serving import fit
    from experiments.serving_swaps import pipeline
    from tuner.api.prediction.metrics import PredictionMetrics
    from tuner.api.prediction.served import ServedModels
    from tuner.models.store import ArtifactStore
    from tuner.registry import ModelRegistry
    from tuner.storage import Storage

    home = Path(tempfile.mkdtemp(prefix="serving-stalls-"))
    registry = ModelRegistry(
        Storage(f"sqlite:///{home}/registry.db"), ArtifactStore(str(home / "store"))
    )
    fitted = {"cancer": [fit(seed, 100) for seed in (0, 1)]}
    X = fitted["cancer"][0][1]
    for seed in (0, 1):
        alias = "production" if seed == 0 else None
        registry.register_model(fitted["cancer"][seed][0], "cancer", example=X, alias=alias)
        registry.register_model(pipeline(seed), "gbm", example=X, alias=alias)
    models = ServedModels(registry, ["cancer", "gbm"], PredictionMetrics())
    models.refresh_all()
    gc.collect()
    gc.freeze()  # as the server does after its first load
    print("| model | swap (s, median) | longest wait, steady (ms, median / max) | longest wait "
          "across a swap (ms, median / max) |\n|---|---|---|---|")  # fmt: skip
    for name in ("cancer", "gbm"):
        steady, swapping, took = [], [], []
        for i in range(args.swaps):
            steady.append(longest_gap(0.6))
            registry.set_alias(name, "production", 2 if i % 2 == 0 else 1, "stalls")

            def timed(name: str = name, took: list[float] = took) -> None:
                began = time.perf_counter()
                models.refresh(name)
                took.append(time.perf_counter() - began)

            swap = threading.Thread(target=timed)
            swap.start()
            swapping.append(longest_gap(0.6))
            swap.join()
        print(
            f"| {name} | {statistics.median(took):.2f} | {statistics.median(steady):.1f} / "
            f"{max(steady):.1f} | {statistics.median(swapping):.1f} / {max(swapping):.1f} |",
            flush=True,
        )
    models.close()


if __name__ == "__main__":
    main()
