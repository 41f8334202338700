"""One study on the server, as a training script or a worker sees it."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tuner.client.trial import StudyComplete, StudyStopped, Trial

if TYPE_CHECKING:
    from tuner.client.tuner_client import TunerClient

Objective = Callable[..., Any]


class Study:
    """One study on the server: read it, claim its trials, run an objective over it."""

    def __init__(self, client: TunerClient, name: str) -> None:
        self.client = client
        self.name = name
        self.path = f"/api/v1/studies/{name}"
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def info(self) -> dict[str, Any]:
        return self.client.http.request("GET", self.path)  # type: ignore[no-any-return]

    def leaderboard(self, top: int | None = None) -> list[dict[str, Any]]:
        params = {"top": top} if top else None
        return self.client.http.request(  # type: ignore[no-any-return]
            "GET", f"{self.path}/leaderboard", params=params
        )

    @property
    def best_trial(self) -> dict[str, Any]:
        """The feasible complete trial with the best value, the leaderboard's first (ValueError
        while there is none: no complete trial, or every one broke a constraint)."""
        best = self.leaderboard(top=1)
        if not best:
            raise ValueError(f"study {self.name} has no complete trial yet")
        if best[0].get("front", 0) is None:  # infeasible rank after every feasible trial
            raise ValueError(
                f"study {self.name} has no feasible trial yet: every complete one broke a "
                "constraint"
            )
        return best[0]

    @property
    def best_params(self) -> dict[str, Any]:
        return self.best_trial["params"]  # type: ignore[no-any-return]

    @property
    def best_value(self) -> float:
        return float(self.best_trial["value"])

    def trials(self, state: str | None = None) -> Iterator[dict[str, Any]]:
        """Every trial (of ``state``), fetched page by page."""
        offset = 0
        while True:
            params: dict[str, Any] = {"offset": offset, "limit": 500}
            if state:
                params["state"] = state
            page = self.client.http.request("GET", f"{self.path}/trials", params=params)
            yield from page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    def run(self) -> dict[str, Any]:
        """Run the plan on the server's own executor (when its operator allows it)."""
        return self.client.http.request("POST", f"{self.path}/run")  # type: ignore[no-any-return]

    def stop(self) -> dict[str, Any]:
        """Stop the study: no trial is handed out until it runs or resumes again."""
        return self.client.http.request("POST", f"{self.path}/stop")  # type: ignore[no-any-return]

    def resume(self) -> dict[str, Any]:
        return self.client.http.request(  # type: ignore[no-any-return]
            "POST", f"{self.path}/resume"
        )

    def delete(self) -> None:
        self.client.http.request("DELETE", self.path)

    def next_trial(self, worker: str | None = None, wait: bool = True) -> Trial:
        """Claim a trial (waiting while other workers hold the last ones); ``StudyComplete``
        when the plan is done, ``StudyStopped`` while the study is stopped. Use it as a context
        manager: an exception inside the block fails the attempt."""
        worker = worker or self.worker
        while True:
            answer = self.client.http.request(
                "POST", f"{self.path}/trials/claim", json={"worker": worker}
            )
            if answer["trial"] is not None:
                return Trial(self, answer["trial"], answer["lease_seconds"])
            if answer["complete"] or not wait:
                raise StudyComplete(self.name)
            if answer.get("stopped"):
                raise StudyStopped(self.name)
            time.sleep(answer["retry_after"])

    def optimize(
        self,
        fn: Objective,
        n_trials: int | None = None,
        workers: int = 1,
        *,
        processes: bool = False,
    ) -> int:
        """Run ``fn(params)`` or ``fn(params, trial)`` on trials until the study is done (or
        stopped) or ``n_trials`` are done here; returns how many ran here.

        ``workers`` run side by side in threads (like Optuna's ``n_jobs``: any function works,
        and frameworks that release the GIL, as XGBoost, scikit-learn and PyTorch do, run in
        parallel), or with ``processes=True`` in processes of their own (``fn`` must then be
        defined at module level and the script guarded by ``if __name__ == "__main__":``).
        Raises ``WorkersFailed`` with the reasons if a worker fails to start or dies, and the
        server's ``TunerAPIError`` (a missing study, a refused token) as it is."""
        from tuner.client.work import optimize

        return optimize(self, fn, n_trials, workers, processes)
