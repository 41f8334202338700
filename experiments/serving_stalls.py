"""How long a swap can hold up the thread that answers requests, measured in-process: the
prediction server's ``ServedModels`` swaps a model in a thread (as the pull and push threads
do) while this thread, standing in for the event loop, sleeps 1 ms at a time and records the
longest gap between wake-ups (a wake-up waits for the GIL and for a core). Steady windows of the
same length, without a swap, are the reference. Models: ``cancer`` (XGBoost, 100 trees) and
``gbm`` (a scikit-learn pipeline of 100 boosted trees: skops loading, the array copy, checks).
Two ways to load, alternated swap by swap in the same run: ``loader`` (the server's: in the
loader process, handed over as a pickle) and ``here`` (``Predictor.load`` in the swapping thread,
as before the loader). Also the time of each step by itself: ``Predictor.load`` in this process
against unpickling the loader's hand-over.

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
from typing import Any


def longest_gap(seconds: float) -> float:
    """The longest time (ms) between two wake-ups of 1 ms sleeps over ``seconds``."""
    longest, end = 0.0, time.perf_counter() + seconds
    last = time.perf_counter()
    while last < end:
        time.sleep(0.001)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    return 1000 * longest


class Here:
    """Loads in the calling thread: what swaps did before the loader process."""

    def load(self, located: Any, flavor: str) -> Any:
        return located.load()

    def close(self) -> None:
        return None


def step_times(registry: Any, name: str, times: int) -> tuple[float, float, int]:
    """Medians (ms) of ``Predictor.load`` here and of unpickling the loader's hand-over of
    ``name``'s production version, and the hand-over's size (bytes)."""
    from tuner.api.prediction.loader import load_and_pickle, unpickle

    version = registry.storage.model_version(registry.project, name, "production")
    located = registry.locate(version)
    loads, unpickles = [], []
    for _ in range(times):
        began = time.perf_counter()
        located.load()
        loads.append(time.perf_counter() - began)
        _, data = load_and_pickle(located)
        began = time.perf_counter()
        unpickle(data, version.flavor)
        unpickles.append(time.perf_counter() - began)
    return 1000 * statistics.median(loads), 1000 * statistics.median(unpickles), len(data)


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
    print("| model | load here (ms) | unpickle of the hand-over (ms) | hand-over (KB) |\n"
          "|---|---|---|---|")  # fmt: skip
    for name in ("cancer", "gbm"):
        here, unpickled, size = step_times(registry, name, args.swaps)
        print(f"| {name} | {here:.1f} | {unpickled:.1f} | {size / 1000:.0f} |", flush=True)
    loader = models.loader
    ways = {"loader": loader, "here": Here()}
    print("\n| model | load | swap (s, median) | longest wait, steady (ms, median / max) | "
          "longest wait across a swap (ms, median / max) |\n|---|---|---|---|---|")  # fmt: skip
    for name in ("cancer", "gbm"):
        steady: dict[str, list[float]] = {w: [] for w in ways}
        swapping: dict[str, list[float]] = {w: [] for w in ways}
        took: dict[str, list[float]] = {w: [] for w in ways}
        for i in range(2 * args.swaps):
            way = ("loader", "here")[i % 2]
            models.loader = ways[way]  # type: ignore[assignment]
            steady[way].append(longest_gap(0.6))
            registry.set_alias(name, "production", 2 if i % 2 == 0 else 1, "stalls")

            def timed(name: str = name, took: list[float] = took[way]) -> None:
                began = time.perf_counter()
                assert models.refresh(name) == "swapped"
                took.append(time.perf_counter() - began)

            swap = threading.Thread(target=timed)
            swap.start()
            swapping[way].append(longest_gap(0.6))
            swap.join()
        for way in ways:
            print(
                f"| {name} | {way} | {statistics.median(took[way]):.2f} | "
                f"{statistics.median(steady[way]):.1f} / {max(steady[way]):.1f} | "
                f"{statistics.median(swapping[way]):.1f} / {max(swapping[way]):.1f} |",
                flush=True,
            )
    models.loader = loader
    models.close()


if __name__ == "__main__":
    main()
