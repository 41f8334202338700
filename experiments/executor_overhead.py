"""Dispatch overhead per trial (a no-op objective) and speed-up with 2 workers (a 1-second
objective) for each executor: local, command, ray, spark.

    .venv/bin/python -m experiments.executor_overhead [--trials 20]

Prints a table and writes experiments/results/executor_overhead.json. Start-up (Ray, the Spark
JVM) is timed apart: it is paid once per study, not per trial.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import wait
from pathlib import Path
from typing import Any

from tuner.executor import Executor, TrialJob
from tuner.study import ObjectiveSpec
from tuner.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"


def _objective(executor: str, name: str) -> ObjectiveSpec:
    if executor == "command":
        if name == "noop":
            return ObjectiveSpec(command="echo '{\"value\": 0}'")
        return ObjectiveSpec(command="sleep 1; echo '{\"value\": 1}'")
    return ObjectiveSpec(function=f"experiments.executor_objectives:{name}")


def _make(kind: str, workers: int) -> Executor:
    if kind == "local":
        from tuner.executors.local import LocalExecutor

        return LocalExecutor(workers=workers)
    if kind == "command":
        from tuner.executors.command import CommandExecutor

        return CommandExecutor(workers=workers)
    if kind == "ray":
        from tuner.executors.ray import RayExecutor

        return RayExecutor(workers=workers)
    from tuner.executors.spark import SparkExecutor

    return SparkExecutor(master="local[2]", parallelism=workers)


def _run(executor: Executor, kind: str, name: str, n: int) -> float:
    jobs = [
        TrialJob("bench", i, 1, {}, _objective(kind, name), workdir=str(ROOT)) for i in range(n)
    ]
    start = time.perf_counter()
    futures = [executor.submit(job) for job in jobs]
    wait(futures)
    elapsed = time.perf_counter() - start
    bad = [f.result().error for f in futures if f.result().state is not TrialState.COMPLETE]
    if bad:
        raise RuntimeError(f"{kind}: {len(bad)} trials failed: {bad[0]}")
    return elapsed


def measure(kind: str, trials: int) -> dict[str, Any]:
    start = time.perf_counter()
    if kind == "ray":
        import ray

        ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    if kind == "spark":
        from tuner.executors.spark_session import start_session

        start_session("local[2]", "tuner-bench").sparkContext.setLogLevel("ERROR")
    one = _make(kind, 1)
    startup = time.perf_counter() - start
    _run(one, kind, "noop", 2)  # warm-up: forkserver preload, Ray workers, Spark python workers
    overhead = _run(one, kind, "noop", trials) / trials
    serial = _run(one, kind, "sleep_one", 4)
    one.shutdown()
    two = _make(kind, 2)
    _run(two, kind, "noop", 2)
    parallel = _run(two, kind, "sleep_one", 4)
    two.shutdown()
    return {
        "executor": kind,
        "startup_s": startup,
        "overhead_per_trial_s": overhead,
        "four_1s_trials_1_worker_s": serial,
        "four_1s_trials_2_workers_s": parallel,
        "speedup_2_workers": serial / parallel,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--executors", default="local,command,ray,spark")
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    rows = [measure(kind, args.trials) for kind in args.executors.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "executor_overhead.json"
    out.write_text(
        json.dumps(
            {
                "trials": args.trials,
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "rows": rows,
            },
            indent=2,
        )
    )
    print(
        "| executor | start-up (s) | overhead per trial (ms) | 4 x 1 s, 1 worker (s) "
        "| 4 x 1 s, 2 workers (s) | speed-up |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['executor']} | {r['startup_s']:.1f} | {r['overhead_per_trial_s'] * 1000:.0f} "
            f"| {r['four_1s_trials_1_worker_s']:.2f} | {r['four_1s_trials_2_workers_s']:.2f} "
            f"| {r['speedup_2_workers']:.2f} |"
        )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
