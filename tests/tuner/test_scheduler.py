"""The scheduler's rounds (budget, parallelism, narrowing, exhaustion) and recovery of lost
trials, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.specs import make_spec
from tuner.executor import TrialOutcome
from tuner.scheduler import Scheduler, round_space
from tuner.storage import Storage, now
from tuner.study import StudyState
from tuner.trial import TrialState


@pytest.fixture
def storage(database_url: str) -> Storage:
    s = Storage(database_url)
    yield s
    s.close()


def finish_all(storage: Storage, study: str, value=lambda p: p["x"] ** 2) -> int:
    n = 0
    while (t := storage.claim(study, "w", 60)) is not None:
        v = value(t.params)
        storage.finish(study, t.number, t.attempt, TrialOutcome(TrialState.COMPLETE, value=v), 1)
        n += 1
    return n


def test_rounds_budget_parallelism_and_narrowing(storage: Storage) -> None:
    plan = [
        {"algorithm": "random", "trials": 5, "parallelism": 2},
        {"algorithm": "random", "trials": 4, "narrow": 0.2},
    ]
    storage.create_study(make_spec("r", plan=plan))
    sched = Scheduler(storage)
    p = sched.top_up("r", want=10)
    assert (p.waiting, p.round) == (2, 0)  # parallelism caps what is in flight
    assert storage.get_study("r").state == StudyState.RUNNING
    assert finish_all(storage, "r") == 2
    while (p := sched.top_up("r", want=10)).round == 0:
        assert p.waiting + p.running <= 2
        finish_all(storage, "r")
    assert p.waiting == 4  # the next round starts only once round 0 is finished
    trials = [t for t in storage.trials("r") if t.round == 0]
    assert len(trials) == 5 and all(t.state is TrialState.COMPLETE for t in trials)
    narrowed = round_space(storage.get_study("r").spec, 1, trials)
    best = min(trials, key=lambda t: t.value)
    x = narrowed["x"]
    assert x.high - x.low == pytest.approx(2.0) and x.low <= best.params["x"] <= x.high
    finish_all(storage, "r")
    for t in storage.trials("r")[5:]:
        assert t.round == 1 and narrowed.contains(t.params)
    p = sched.progress("r")
    assert p.complete and p.done == 9 and p.planned == 9
    assert storage.get_study("r").state == StudyState.COMPLETE
    assert sched.top_up("r", want=3).waiting == 0  # a complete study asks for nothing more


def test_exhausted_grid_ends_its_round_early(storage: Storage) -> None:
    space = {"k": {"type": "categorical", "choices": ["a", "b", "c"]}}
    plan = [{"algorithm": "grid", "trials": 10}, {"algorithm": "random", "trials": 1}]
    storage.create_study(
        make_spec("g", space=space, plan=plan, objective={"function": "tests.objectives:quadratic"})
    )
    sched = Scheduler(storage)
    sched.top_up("g", want=10)
    assert finish_all(storage, "g", value=lambda p: 0.0) == 3
    p = sched.top_up("g", want=10)
    # the grid ran out after 3 points and random has nothing new either: the plan is done
    assert p.round == 2 and p.waiting == 0 and p.complete and p.done == 3
    assert storage.get_study("g").state == StudyState.COMPLETE


def test_recover_requeues_expired_leases_and_dead_local_workers(storage: Storage) -> None:
    storage.create_study(make_spec("rec"))
    sched = Scheduler(storage)
    sched.top_up("rec", want=3)
    a = storage.claim("rec", "elsewhere:1", lease=1)  # remote, silent
    b = storage.claim("rec", "elsewhere:2", lease=600)  # remote, alive
    import socket

    c = storage.claim("rec", f"{socket.gethostname()}:999999999", lease=600)  # dead local pid
    lost = sched.recover("rec", now() + timedelta(seconds=5))
    assert sorted(t.number for t in lost) == sorted([a.number, c.number])
    assert storage.trial("rec", b.number).state is TrialState.RUNNING
    again = storage.trial("rec", a.number)
    assert again.state is TrialState.WAITING and "stopped heart-beating" in again.error
    assert storage.trial("rec", c.number).attempts[-1].outcome == "lost"


def test_progress_counts_and_never_asks_an_algorithm(storage: Storage, monkeypatch) -> None:
    from tuner.algorithms.random_search import RandomSearch

    asked = []
    suggest = RandomSearch.suggest
    monkeypatch.setattr(
        RandomSearch,
        "suggest",
        lambda self, history, n: asked.append(n) or suggest(self, history, n),
    )
    storage.create_study(make_spec("p"))
    sched = Scheduler(storage)
    p = sched.progress("p")
    assert asked == [] and (p.round, p.waiting, p.done, p.best) == (0, 0, 0, None)
    assert not p.complete
    assert sched.top_up("p", want=1).waiting == 6  # random queues ahead, within the round
    assert len(asked) == 1
    # a top-up that finds trials waiting (another worker refilled the queue) asks nobody
    assert sched.top_up("p", want=1).waiting == 6 and len(asked) == 1
    for value in (3.0, 1.0, 1.0):
        t = storage.claim("p", "w", 60)
        storage.finish("p", t.number, t.attempt, TrialOutcome(TrialState.COMPLETE, value=value), 1)
    p = sched.progress("p")
    assert (p.done, p.waiting, p.running, p.planned) == (3, 3, 0, 10)
    assert p.best.number == 1 and p.best.value == 1.0  # the first of equal values
    assert len(asked) == 1
