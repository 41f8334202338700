"""The Python client: submit studies and run their trials from any training script."""

from __future__ import annotations

import inspect
import json
import math
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from client import credentials
from client.http import Transport, TrialLost, TunerAPIError

Objective = Callable[..., Any]


class StudyComplete(Exception):
    """The study's plan is done: no trial will come again."""


class TunerClient:
    """A connection to a Tuner server.

    ``url`` and ``token`` default to ``$TUNER_URL`` and ``$TUNER_TOKEN``, else to what
    ``tuner serve`` stored for the local user. Requests that fail on the network or with a 5xx
    are retried for ``retry_for`` seconds (a server restart goes unnoticed).
    """

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 timeout: float = 30.0, retry_for: float = 120.0) -> None:
        stored = credentials.load()
        self.url = (
            url or os.environ.get("TUNER_URL") or stored.get("url") or credentials.DEFAULT_URL
        )
        self.token = token or os.environ.get("TUNER_TOKEN") or stored.get("token")
        self.timeout = timeout
        self.retry_for = retry_for
        self.http = Transport(self.url, self.token, timeout, retry_for)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TunerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create_study(self, spec: str | Path | Mapping[str, Any]) -> Study:
        """Submit a study: a dict, or the path of a JSON or YAML file (YAML needs PyYAML)."""
        body = _read_spec(spec) if isinstance(spec, str | Path) else dict(spec)
        created = self.http.request("POST", "/api/v1/studies", json=body)
        return Study(self, created["name"])

    def study(self, name: str) -> Study:
        """An existing study (checked to exist)."""
        self.http.request("GET", f"/api/v1/studies/{name}")
        return Study(self, name)

    def studies(self) -> list[dict[str, Any]]:
        return self.http.request("GET", "/api/v1/studies")  # type: ignore[no-any-return]


class Study:
    """One study on the server: read it, claim its trials, run an objective over it."""

    def __init__(self, client: TunerClient, name: str) -> None:
        self.client = client
        self.name = name
        self._path = f"/api/v1/studies/{name}"
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def info(self) -> dict[str, Any]:
        return self.client.http.request("GET", self._path)  # type: ignore[no-any-return]

    def leaderboard(self, top: int | None = None) -> list[dict[str, Any]]:
        params = {"top": top} if top else None
        return self.client.http.request(  # type: ignore[no-any-return]
            "GET", f"{self._path}/leaderboard", params=params)

    def trials(self, state: str | None = None) -> Iterator[dict[str, Any]]:
        """Every trial (of ``state``), fetched page by page."""
        offset = 0
        while True:
            params: dict[str, Any] = {"offset": offset, "limit": 500}
            if state:
                params["state"] = state
            page = self.client.http.request("GET", f"{self._path}/trials", params=params)
            yield from page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    def run(self) -> dict[str, Any]:
        """Run the plan on the server's own executor."""
        return self.client.http.request("POST", f"{self._path}/run")  # type: ignore[no-any-return]

    def stop(self) -> dict[str, Any]:
        return self.client.http.request("POST", f"{self._path}/stop")  # type: ignore[no-any-return]

    def delete(self) -> None:
        self.client.http.request("DELETE", self._path)

    def next_trial(self, worker: str | None = None, wait: bool = True) -> Trial:
        """Claim a trial (waiting while other workers hold the last ones); ``StudyComplete``
        when the plan is done. Use it as a context manager: an exception inside the block
        fails the attempt."""
        worker = worker or self.worker
        while True:
            answer = self.client.http.request(
                "POST", f"{self._path}/trials/claim", json={"worker": worker})
            if answer["trial"] is not None:
                return Trial(self, answer["trial"], answer["lease_seconds"])
            if answer["complete"] or not wait:
                raise StudyComplete(self.name)
            time.sleep(answer["retry_after"])

    def optimize(self, fn: Objective, n_trials: int | None = None, workers: int = 1) -> int:
        """Run ``fn(params)`` or ``fn(params, trial)`` on trials until the study is done or
        ``n_trials`` are done; ``workers`` > 1 runs that many processes (``fn`` must then be
        importable, i.e. defined at module level). Returns the number of trials run here."""
        if workers <= 1:
            return _work(self.client.url, self.client.token, self.name, fn, n_trials, None)
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        budget = ctx.Value("i", n_trials if n_trials is not None else -1)
        done = ctx.Value("i", 0)
        procs = [
            ctx.Process(target=_work_process,
                        args=(self.client.url, self.client.token, self.name, fn, budget, done))
            for _ in range(workers)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        return int(done.value)


class Trial:
    """A claimed attempt of a trial: report, then complete or fail it. Its lease is kept alive
    by a background heartbeat while the ``with`` block runs."""

    def __init__(self, study: Study, body: dict[str, Any], lease_seconds: float) -> None:
        self.study = study
        self.number: int = body["number"]
        self.attempt: int = body["attempt"]
        self.params: dict[str, Any] = body["params"]
        self.round: int = body["round"]
        self.lease_seconds = lease_seconds
        self._path = f"{study._path}/trials/{self.number}"
        self._ended = False
        self._lost = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> Trial:
        self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                      name=f"tuner-heartbeat-{self.number}")
        self._beat.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: Any) -> None:
        self._stop.set()
        if self._ended or self._lost:
            return
        if exc is not None:
            text = "".join(traceback.format_exception(kind, exc, tb))
            self.fail(f"{type(exc).__name__}: {exc}\n{text}"[-8000:])
        else:
            self.fail("the trial's block ended without complete() or fail()")

    @property
    def lost(self) -> bool:
        """Whether the server took this attempt back (its lease expired)."""
        return self._lost

    def report(self, step: int, value: float) -> None:
        """An intermediate value (a learning curve point); non-finite values are skipped."""
        if not math.isfinite(float(value)):
            return
        self._post("report", {"step": int(step), "value": float(value)})

    def should_prune(self) -> bool:
        return False

    def complete(self, value: float | Mapping[str, float]) -> dict[str, Any]:
        """Record the result. A NaN/inf or non-numeric result fails the attempt instead."""
        bad = _bad_value(value)
        if bad:
            return self.fail(bad)
        result = self._post("complete", {"value": _numbers(value)})
        self._ended = True
        return result  # type: ignore[no-any-return]

    def complete_and_next(self, value: float | Mapping[str, float]) -> Trial:
        """Record the result and claim the study's next trial in one round trip (what
        ``optimize`` does); ``StudyComplete`` when no trial will come again."""
        if _bad_value(value) is not None:
            self.complete(value)  # fails the attempt with the reason
            return self.study.next_trial()
        answer = self._post("complete-and-claim",
                            {"value": _numbers(value), "worker": self.study.worker})
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
                "POST", f"{self._path}/{what}", json={"attempt": self.attempt, **body})
        except TrialLost:
            self._lost = True
            raise

    def _heartbeat(self) -> None:
        interval = max(self.lease_seconds / 3, 0.2)
        while not self._stop.wait(interval):
            try:
                self.study.client.http.request(
                    "POST", f"{self._path}/heartbeat", json={"attempt": self.attempt})
            except TrialLost:
                self._lost = True
                return
            except Exception:  # noqa: BLE001 - the next beat tries again
                continue


def _numbers(value: float | Mapping[str, float]) -> float | dict[str, float]:
    if isinstance(value, int | float):
        return float(value)
    return {str(k): float(v) for k, v in value.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def _bad_value(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Mapping):
        return f"the objective returned {type(value).__name__}, not a number or dict"
    numbers = [value] if isinstance(value, int | float) else list(value.values())
    for v in numbers:
        if isinstance(v, int | float) and not isinstance(v, bool) and not math.isfinite(v):
            return f"the objective returned a non-finite value ({v})"
    return None


def _work(url: str, token: str | None, study: str, fn: Objective, n_trials: int | None,
          claim_slot: Callable[[], bool] | None) -> int:
    """The worker loop: claim, evaluate, report, until the study is done or the budget spent."""
    takes_trial = _takes_trial(fn)
    done = 0
    with TunerClient(url, token) as client:
        handle = Study(client, study)
        upcoming: Trial | None = None
        reserved = False  # a budget slot taken for a next trial that did not come
        while n_trials is None or done < n_trials:
            if upcoming is None and not reserved and claim_slot is not None and not claim_slot():
                break
            reserved = False
            try:
                trial = upcoming or handle.next_trial()
            except StudyComplete:
                break
            upcoming = None
            with trial:
                try:
                    result = fn(trial.params, trial) if takes_trial else fn(trial.params)
                except Exception as exc:  # noqa: BLE001 - a failed attempt, the loop goes on
                    trial.fail(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"[-8000:])
                else:
                    last = n_trials is not None and done + 1 >= n_trials
                    more = not last and (claim_slot is None or claim_slot())
                    try:
                        if more:  # one round trip: this result, and the next trial
                            upcoming = trial.complete_and_next(result)
                        else:
                            trial.complete(result)
                    except StudyComplete:
                        done += 1
                        break
                    except TrialLost:
                        reserved = more
            done += 1
    return done


def _work_process(url: str, token: str | None, study: str, fn: Objective, budget: Any,
                  done: Any) -> None:
    def claim_slot() -> bool:
        with budget.get_lock():
            if budget.value == 0:
                return False
            if budget.value > 0:
                budget.value -= 1
            return True

    count = _work(url, token, study, fn, None, claim_slot)
    with done.get_lock():
        done.value += count


def _takes_trial(fn: Objective) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


def _read_spec(path: str | Path) -> dict[str, Any]:
    text = Path(path).read_text()
    if str(path).endswith(".json"):
        return json.loads(text)  # type: ignore[no-any-return]
    try:
        import yaml
    except ImportError:  # pragma: no cover - the client's only hard dependency is httpx
        raise TunerAPIError(0, "yaml_missing", "reading a YAML study needs PyYAML") from None
    return yaml.safe_load(text)  # type: ignore[no-any-return]
