"""A claimed attempt of a trial, as a training script holds it."""

from __future__ import annotations

import math
import threading
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tuner.client.http import TrialLost

if TYPE_CHECKING:
    from tuner.client.study import Study


class StudyComplete(Exception):
    """The study's plan is done: no trial will come again."""


class StudyStopped(Exception):
    """The study was stopped (``tuner stop``, ``POST .../stop``): no trial comes until it runs
    or resumes again."""


class TrialPruned(Exception):
    """Raised by an objective (inside ``optimize``, or a ``with trial:`` block) to end its trial
    as pruned; Optuna's ``TrialPruned`` works too (any exception class of that name does)."""


class Trial:
    """A claimed attempt of a trial: report, then complete or fail it. Its lease is kept alive
    by a background heartbeat while the ``with`` block runs."""

    def __init__(self, study: Study, body: dict[str, Any], lease_seconds: float) -> None:
        self.study = study
        self.number: int = body["number"]
        self.attempt: int = body["attempt"]
        self.params: dict[str, Any] = body["params"]
        self.round: int = body["round"]
        # what the trial may spend (boosting rounds, epochs): its round's resource.max, if given
        resource = (body.get("meta") or {}).get("resource")
        self.resource: int | None = int(resource["max"]) if isinstance(resource, dict) else None
        self.lease_seconds = lease_seconds
        self._path = f"{study.path}/trials/{self.number}"
        self._ended = False
        self._lost = False
        self._prune = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> Trial:
        self._beat = threading.Thread(
            target=self._heartbeat, daemon=True, name=f"tuner-heartbeat-{self.number}"
        )
        self._beat.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> bool:
        self._stop.set()
        if self._ended or self._lost:
            return False
        if exc is not None and is_pruned(exc):
            self.prune()
            return True  # raising TrialPruned is how an objective says "pruned": not an error
        if exc is not None:
            text = "".join(traceback.format_exception(kind, exc, tb))
            self.fail(f"{type(exc).__name__}: {exc}\n{text}"[-8000:])
        elif self._prune:  # told to stop, the block ended without a result: pruned
            self.prune()
        else:
            self.fail("the trial's block ended without complete() or fail()")
        return False

    @property
    def lost(self) -> bool:
        """Whether the server took this attempt back (its lease expired)."""
        return self._lost

    def report(self, step: int, value: float) -> None:
        """An intermediate value (a learning curve point); non-finite values are skipped. The
        server answers whether the study's pruner asks this trial to stop (``should_prune``)."""
        if not math.isfinite(float(value)):
            return
        answer = self._post("report", {"step": int(step), "value": float(value)})
        if isinstance(answer, dict) and answer.get("prune"):
            self._prune = True

    def should_prune(self) -> bool:
        """Whether the server answered a report with "stop": the objective then returns what it
        has (the trial ends pruned with its last report) or raises ``TrialPruned``."""
        return self._prune

    def prune(self) -> dict[str, Any]:
        """End the attempt as pruned, with its last reported step and value."""
        result = self._post("prune", {})
        self._ended = True
        return result  # type: ignore[no-any-return]

    def complete(self, value: float | Mapping[str, float]) -> dict[str, Any]:
        """Record the result. A NaN/inf or non-numeric result fails the attempt instead."""
        bad = bad_value(value)
        if bad:
            return self.fail(bad)
        result = self._post("complete", {"value": numbers(value)})
        self._ended = True
        return result  # type: ignore[no-any-return]

    def complete_and_next(self, value: float | Mapping[str, float]) -> Trial:
        """Record the result and claim the study's next trial in one round trip (what
        ``optimize`` does); ``StudyComplete`` when no trial will come again."""
        if bad_value(value) is not None:
            self.complete(value)  # fails the attempt with the reason
            return self.study.next_trial()
        answer = self._post(
            "complete-and-claim", {"value": numbers(value), "worker": self.study.worker}
        )
        self._ended = True
        self._stop.set()
        if answer["trial"] is not None:
            return Trial(self.study, answer["trial"], answer["lease_seconds"])
        if answer["complete"]:
            raise StudyComplete(self.study.name)
        return self.study.next_trial()

    def fail(self, error: str) -> dict[str, Any]:
        result = self._post("fail", {"error": error[-20_000:]})
        self._ended = True
        return result  # type: ignore[no-any-return]

    def _post(self, what: str, body: dict[str, Any]) -> Any:
        try:
            return self.study.client.http.request(
                "POST",
                f"{self._path}/{what}",
                json={"attempt": self.attempt, **body},
                conflict=TrialLost,
            )
        except TrialLost:
            self._lost = True
            raise

    def _heartbeat(self) -> None:
        interval = max(self.lease_seconds / 3, 0.2)
        while not self._stop.wait(interval):
            try:
                self.study.client.http.request(
                    "POST",
                    f"{self._path}/heartbeat",
                    json={"attempt": self.attempt},
                    conflict=TrialLost,
                )
            except TrialLost:
                self._lost = True
                return
            except Exception:  # noqa: BLE001 - the next beat tries again
                continue


def is_pruned(exc: BaseException) -> bool:
    """Whether ``exc`` says "pruned": ours, the server's or Optuna's ``TrialPruned``."""
    return any(k.__name__ == "TrialPruned" for k in type(exc).__mro__)


def numbers(value: float | Mapping[str, Any]) -> float | dict[str, Any]:
    """The numbers of a result, and its ``constraints`` list (feasible when each is <= 0)."""
    if isinstance(value, int | float):
        return float(value)
    out: dict[str, Any] = {
        str(k): float(v)
        for k, v in value.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    constraints = value.get("constraints")
    if isinstance(constraints, list | tuple):
        out["constraints"] = [float(c) for c in constraints]
    return out


def bad_value(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Mapping):
        return f"the objective returned {type(value).__name__}, not a number or dict"
    values = [value] if isinstance(value, int | float) else list(value.values())
    for v in values:
        if isinstance(v, int | float) and not isinstance(v, bool) and not math.isfinite(v):
            return f"the objective returned a non-finite value ({v})"
    return None
