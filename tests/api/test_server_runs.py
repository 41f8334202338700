"""The watch over server-side runs (``api.runs.ServerRuns.keep``) against a race: a run this
server takes while its keeper reads the leases is not in what the keeper read, and must not be
stopped as lost (it was, and a just-started study then stalled for a whole lease)."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.specs import spec_dict
from tuner.api.runs import ServerRuns
from tuner.config import Settings
from tuner.storage import Storage
from tuner.study import StudySpec


def test_a_run_taken_while_the_keeper_reads_the_leases_is_not_stopped(tmp_path: Path) -> None:
    storage = Storage(f"sqlite:///{tmp_path / 'tuner.db'}")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'tuner.db'}",
        allow_runs=True,
        allow_functions=("tests",),
        artifacts_dir=str(tmp_path / "artifacts"),
    )
    runs = ServerRuns(storage, settings)
    spec = spec_dict(
        "raced",
        plan=[{"algorithm": "random", "trials": 3}],
        objective={"function": "tests.objectives:sleepy_quadratic"},
    )
    storage.create_study(StudySpec.from_dict(spec))
    read = storage.renew_runs

    def renew_then_take(owner: str, lease: float) -> set[str]:
        held = read(owner, lease)  # the leases as read before the run below was taken
        runs.start("raced")  # POST .../run lands now
        return held

    storage.renew_runs = renew_then_take  # type: ignore[method-assign]
    stop = threading.Event()
    stop.set()  # one round of the watch
    runs.keep(stop)
    storage.renew_runs = read  # type: ignore[method-assign]
    run = runs._runs["raced"]
    assert run.runner is not None and not run.runner.stop_requested, "stopped as lost"
    run.done.wait(60)
    assert run.error is None
    assert storage.study_summary("raced").done == 3  # the run went on to the end
    storage.close()
