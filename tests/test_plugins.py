"""A third party's plug-ins, defined here as they would be in a package of their own, run the
conformance suites that ship with Tuner (``tuner.testing``): an algorithm, an executor and a
trainer, none of them installed."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from tuner.algorithm import Algorithm, seen_keys
from tuner.executor import StopListener, TrialJob, TrialOutcome
from tuner.executors.pool import PooledExecutor
from tuner.executors.trial_process import TrialProcess
from tuner.space import Params
from tuner.testing import AlgorithmConformance, ExecutorConformance, TrainerConformance
from tuner.trainer import Trainer
from tuner.trial import Trial


class Halton(Algorithm):
    """Points of a scrambled Halton sequence: spread evenly, as a quasi-random warm-up."""

    name = "halton"

    def suggest(self, history: Sequence[Trial], n: int) -> list[Params]:
        from scipy.stats import qmc

        sampler = qmc.Halton(len(self.space), seed=self.seed or 0)
        seen = seen_keys(self.space, history)
        out: list[Params] = []
        for u in sampler.random(len(history) + 50 * n):
            if len(out) == n:
                break
            params = self.space.from_unit(u)
            if self.space.key(params) not in seen:
                seen.add(self.space.key(params))
                out.append(params)
        return out


class FreshInterpreterExecutor(PooledExecutor):
    """Every trial in a new Python interpreter, through Tuner's own trial processes."""

    name = "fresh"

    def __init__(self, *, workers: int = 1) -> None:
        self._start_pool(workers, "fresh")
        self._trials: set[TrialProcess] = set()

    def _run(self, job: TrialJob, listener: StopListener | None) -> TrialOutcome:
        trial = TrialProcess(job)
        with self._lock:
            if self._cancelling:
                return TrialOutcome.failure("cancelled")
            self._trials.add(trial)
        try:
            return trial.run(listener)
        finally:
            with self._lock:
                self._trials.discard(trial)

    def _cancel_running(self) -> None:
        with self._lock:
            trials = list(self._trials)
        for trial in trials:
            trial.kill()


class RidgeTrainer(Trainer):
    """Ridge regression by least squares on a hold-out: ``alpha`` is its one parameter."""

    name = "ridge"
    options = frozenset({"data", "label", "metric", "save_model"})
    default_metric = "rmse"

    @classmethod
    def metrics(cls) -> Collection[str]:
        return {"rmse", "r2"}

    @classmethod
    def maximized(cls) -> Collection[str]:
        return {"r2"}

    @classmethod
    def parameters(cls, options: Mapping[str, Any]) -> Collection[str]:
        return {"alpha"}

    def __call__(self, params: Params, trial: Any) -> dict[str, float]:
        table = np.genfromtxt(self.data, delimiter=",", names=True)
        y = table[self.label].astype(float)
        x = np.column_stack([table[n] for n in table.dtype.names if n != self.label])
        half = len(y) // 2
        a = x[:half].T @ x[:half] + params.get("alpha", 1.0) * np.eye(x.shape[1])
        weights = np.linalg.solve(a, x[:half].T @ y[:half])
        errors = x[half:] @ weights - y[half:]
        rmse = float(np.sqrt(np.mean(errors**2)))
        trial.report(0, rmse)
        if self.save_model and trial.artifact_dir:
            os.makedirs(trial.artifact_dir, exist_ok=True)
            np.save(os.path.join(trial.artifact_dir, "weights.npy"), weights)
        r2 = 1 - float(np.mean(errors**2) / np.var(y[half:]))
        return {"rmse": rmse, "r2": r2}


class TestHalton(AlgorithmConformance):
    algorithm = Halton


class TestFreshInterpreterExecutor(ExecutorConformance):
    def make_executor(self, workers: int) -> FreshInterpreterExecutor:
        return FreshInterpreterExecutor(workers=workers)


class TestRidgeTrainer(TrainerConformance):
    trainer = RidgeTrainer
    params = {"alpha": 0.1}
