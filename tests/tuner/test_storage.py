"""Storage on both SQLite and PostgreSQL: studies, the trial life cycle, atomic claims."""

from __future__ import annotations

import multiprocessing as mp
import random

import pytest

from tests.specs import make_spec
from tuner.errors import Conflict, NotFound
from tuner.executor import TrialOutcome
from tuner.storage import MAX_LOSSES, Storage
from tuner.study import StudyState
from tuner.trial import TrialState

OK = TrialOutcome(TrialState.COMPLETE, value=1.5, values={"value": 1.5}, intermediate=((1, 2.0),))


@pytest.fixture
def storage(database_url: str) -> Storage:
    s = Storage(database_url)
    yield s
    s.close()


def add(storage: Storage, study: str, n: int, round: int = 0) -> None:
    with storage.locked(study) as locked:
        locked.add_trials(round, [{"x": float(i), "n": 1, "kind": "a"} for i in range(n)])


def test_study_create_get_list_delete(storage: Storage) -> None:
    spec = make_spec("alpha")
    record = storage.create_study(spec)
    assert record.state == StudyState.CREATED and record.round == 0
    assert storage.get_study("alpha").spec == spec
    with pytest.raises(Conflict):
        storage.create_study(spec)
    add(storage, "alpha", 3)
    t = storage.claim("alpha", "w", 60)
    storage.finish("alpha", t.number, t.attempt, OK, 1)
    (summary,) = storage.list_studies()
    assert (summary.name, summary.done, summary.planned, summary.best_value) == (
        "alpha",
        1,
        10,
        1.5,
    )
    assert summary.state == StudyState.RUNNING
    storage.delete_study("alpha")
    with pytest.raises(NotFound):
        storage.get_study("alpha")
    with pytest.raises(NotFound):
        storage.trials("alpha")
    assert storage.list_studies() == []


def test_reopening_keeps_data_and_schema_is_migrated_once(database_url: str) -> None:
    a = Storage(database_url)
    a.create_study(make_spec("kept"))
    a.close()
    b = Storage(database_url)
    assert b.get_study("kept").name == "kept"
    b.close()


def test_trial_life_cycle_and_json_columns(storage: Storage) -> None:
    storage.create_study(make_spec("life"))
    with storage.locked("life") as locked:
        made = locked.add_trials(0, [{"x": 0.25, "n": 2, "kind": "b", "extra": 0.5}])
    assert made[0].number == 0 and made[0].state is TrialState.WAITING
    t = storage.claim("life", "host:1", 60)
    assert t is not None and t.state is TrialState.RUNNING and t.attempt == 1
    assert t.params == {"x": 0.25, "n": 2, "kind": "b", "extra": 0.5}
    assert t.lease_expires_at is not None and t.worker == "host:1"
    assert storage.claim("life", "host:2", 60) is None
    storage.heartbeat("life", 0, 1, 120)
    done = storage.finish("life", 0, 1, OK, max_attempts=1)
    assert done.state is TrialState.COMPLETE and done.value == 1.5
    assert done.values == {"value": 1.5} and done.intermediate == ((1, 2.0),)
    assert done.finished_at is not None and done.duration is not None
    assert [a.outcome for a in done.attempts] == ["complete"]
    # the same attempt finishing again with the same result is a no-op; anything else conflicts
    assert storage.finish("life", 0, 1, OK, 1).value == 1.5
    with pytest.raises(Conflict):
        storage.finish("life", 0, 1, TrialOutcome(TrialState.COMPLETE, value=2.0), 1)
    with pytest.raises(Conflict):
        storage.heartbeat("life", 0, 1, 60)
    with pytest.raises(NotFound):
        storage.trial("life", 7)


def test_failures_retry_until_max_attempts(storage: Storage) -> None:
    storage.create_study(make_spec("retry"))
    add(storage, "retry", 1)
    for attempt in (1, 2, 3):
        t = storage.claim("retry", "w", 60)
        assert t is not None and t.attempt == attempt
        after = storage.finish("retry", 0, attempt, TrialOutcome.failure(f"boom {attempt}"), 3)
        expected = TrialState.WAITING if attempt < 3 else TrialState.FAILED
        assert after.state is expected and after.error == f"boom {attempt}"
    assert storage.claim("retry", "w", 60) is None
    assert [a.error for a in storage.trial("retry", 0).attempts] == ["boom 1", "boom 2", "boom 3"]


def test_requeue_interrupted_is_free_lost_is_capped(storage: Storage) -> None:
    storage.create_study(make_spec("lost"))
    add(storage, "lost", 1)
    t = storage.claim("lost", "w", 60)
    back = storage.requeue("lost", 0, t.attempt, "interrupted", lost=False)
    assert back.state is TrialState.WAITING and back.error is None
    with pytest.raises(Conflict):  # a late report of the old attempt is refused
        storage.finish("lost", 0, t.attempt, OK, 1)
    for _ in range(MAX_LOSSES):
        t = storage.claim("lost", "w", 60)
        back = storage.requeue("lost", 0, t.attempt, "lost: worker died", lost=True)
    assert back.state is TrialState.FAILED and back.error == "lost: worker died"
    assert len(back.attempts) == MAX_LOSSES + 1


def test_claims_in_number_order_and_states_filter(storage: Storage) -> None:
    storage.create_study(make_spec("order"))
    add(storage, "order", 5)
    got = [storage.claim("order", "w", 60).number for _ in range(3)]
    assert got == [0, 1, 2]
    assert [t.number for t in storage.trials("order", states=[TrialState.WAITING])] == [3, 4]
    assert [t.number for t in storage.trials("order", offset=1, limit=2)] == [1, 2]


def _claim_all(url: str, study: str, worker: str, start, out: mp.Queue) -> None:
    storage = Storage(url)
    start.wait(60)  # all processes ready: a claim is ~1 ms, one could take all before the next
    claimed = []
    while (t := storage.claim(study, worker, 60)) is not None:
        storage.finish(study, t.number, t.attempt, OK, 1)
        claimed.append(t.number)
    out.put(claimed)
    storage.close()


def test_concurrent_claims_from_processes_never_share_a_trial(storage: Storage) -> None:
    storage.create_study(make_spec("race"))
    add(storage, "race", 400)
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    start = ctx.Barrier(4)
    procs = [
        ctx.Process(target=_claim_all, args=(storage.url, "race", f"w{i}", start, out))
        for i in range(4)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    claimed = [n for r in results for n in r]
    assert sorted(claimed) == list(range(400))  # each trial exactly once
    assert sum(1 for r in results if r) >= 2  # the work really was shared
    assert all(t.state is TrialState.COMPLETE and t.attempt == 1 for t in storage.trials("race"))


def test_suggestion_meta_is_stored_with_the_trial(storage: Storage) -> None:
    from tuner.algorithm import Suggestion

    storage.create_study(make_spec("meta"))
    with storage.locked("meta") as locked:
        locked.add_trials(
            0,
            [
                Suggestion({"x": 1.0, "n": 1, "kind": "a"}, {"generation": 3}),
                {"x": 2.0, "n": 1, "kind": "a"},
            ],
        )
    assert [t.meta for t in storage.trials("meta")] == [{"generation": 3}, {}]


def test_an_old_schema_is_migrated_keeping_its_data(database_url: str) -> None:
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from tuner.storage.engine import _MIGRATIONS, normalise_url

    engine = sa.create_engine(normalise_url(database_url))
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        spec = make_spec("old").to_dict()
        conn.execute(
            sa.text(
                "INSERT INTO studies (id, name, spec, state, round, revision, created_at, "
                "updated_at) VALUES (1, 'old', :spec, 'running', 0, 0, :t, :t)"
            ),
            {"spec": __import__("json").dumps(spec), "t": "2026-01-01 00:00:00"},
        )
        conn.execute(
            sa.text(
                "INSERT INTO trials (study_id, number, round, params, state, attempt, "
                'failures, losses, value, "values", intermediate, attempt_log, created_at) '
                "VALUES (1, 0, 0, :p, 'complete', 1, 0, 0, 0.5, '{}', '[]', '[]', :t)"
            ),
            {"p": '{"x": 0.5, "n": 2, "kind": "a"}', "t": "2026-01-01 00:00:00"},
        )
    engine.dispose()
    storage = Storage(database_url)
    (trial,) = storage.trials("old")
    assert trial.value == 0.5 and trial.params["n"] == 2 and trial.meta == {}
    storage.close()


def test_a_saved_model_is_recorded_with_the_trial(storage: Storage) -> None:
    storage.create_study(make_spec("model"))
    add(storage, "model", 1)
    t = storage.claim("model", "w", 60)
    outcome = TrialOutcome(TrialState.COMPLETE, value=1.0, artifact="/models/model/0-1")
    done = storage.finish("model", t.number, t.attempt, outcome, 1)
    assert done.meta == {"artifact": "/models/model/0-1"}


def test_finish_and_claim_is_one_round_trip_and_one_transaction(storage: Storage) -> None:
    storage.create_study(make_spec("fc"))
    add(storage, "fc", 2)
    t = storage.claim("fc", "w1", 60)
    read_with = []

    def outcome(spec):  # built against the stored spec, inside the transaction
        read_with.append(spec.name)
        return OK

    done, nxt = storage.finish_and_claim("fc", t.number, t.attempt, outcome, "w2", 60)
    assert read_with == ["fc"] and done.state is TrialState.COMPLETE and done.value == 1.5
    assert done.intermediate == ((1, 2.0),) and [a.outcome for a in done.attempts] == ["complete"]
    assert (nxt.number, nxt.worker, nxt.attempt, nxt.state) == (1, "w2", 1, TrialState.RUNNING)
    # a stale attempt is a Conflict and the claim in the same call is rolled back with it
    add(storage, "fc", 1)
    other = TrialOutcome(TrialState.COMPLETE, value=9.0)
    with pytest.raises(Conflict):
        storage.finish_and_claim("fc", t.number, t.attempt, lambda spec: other, "w3", 60)
    assert storage.trial("fc", 2).state is TrialState.WAITING
    # the same call again (a retried request) answers as the first time: the same claim
    again, held = storage.finish_and_claim("fc", t.number, t.attempt, outcome, "w2", 60)
    assert again.value == 1.5 and (held.number, held.attempt) == (nxt.number, nxt.attempt)
    assert storage.trial("fc", 2).state is TrialState.WAITING  # no second claim
    # ...only while that worker still holds it; no worker, no claim
    assert storage.finish_and_claim("fc", t.number, t.attempt, outcome, "w9", 60)[1] is None
    again, none = storage.finish_and_claim("fc", t.number, t.attempt, lambda spec: OK)
    assert again.value == 1.5 and none is None
    # a failure counts against the spec's attempts (retries 0: one attempt)
    failed, _ = storage.finish_and_claim(
        "fc", nxt.number, nxt.attempt, lambda spec: TrialOutcome.failure("boom")
    )
    assert failed.state is TrialState.FAILED and failed.error == "boom"
    with pytest.raises(NotFound):
        storage.finish_and_claim("nope", 0, 1, lambda spec: OK, "w", 60)
    with pytest.raises(NotFound):
        storage.finish_and_claim("fc", 99, 1, lambda spec: OK, "w", 60)


def test_heartbeat_returns_the_new_end_of_the_lease(storage: Storage) -> None:
    storage.create_study(make_spec("hb"))
    add(storage, "hb", 1)
    t = storage.claim("hb", "w", 5)
    expires = storage.heartbeat("hb", t.number, t.attempt, 600)
    stored = storage.trial("hb", t.number).lease_expires_at
    assert expires > t.lease_expires_at
    assert abs((expires - stored).total_seconds()) < 1e-3


def test_run_leases_one_holder_a_mark_with_the_lease_and_a_stop_wins(storage: Storage) -> None:
    storage.create_study(make_spec("leased"))
    assert storage.orphaned_runs() == []
    # a server asked to run it marks it wanted in the statement that takes the lease: no moment
    # at which it is wanted and held by nobody (another server's watch would take it)
    assert storage.acquire_run("leased", "a", 60.0, mark=True)
    assert storage.run_wanted("leased") and storage.orphaned_runs() == []
    assert not storage.acquire_run("leased", "b", 60.0, mark=True)  # held: one holder
    assert storage.held_runs() == [("leased", "a")]
    assert storage.renew_runs("a", 60.0) == {"leased"}
    storage.set_server_run("leased", False)  # stopped: the lease goes with the mark
    assert storage.renew_runs("a", 60.0) == set()
    # a watch that saw it orphaned before the stop does not take it back (nor mark it)
    assert not storage.acquire_run("leased", "b", 60.0)
    assert not storage.run_wanted("leased")
    assert storage.acquire_run("leased", "b", 0.0, mark=True)  # a lease of 0 s: lapsed at once
    assert storage.orphaned_runs() == ["leased"]
    assert storage.acquire_run("leased", "c", 60.0)  # a lapsed lease is taken over
    assert storage.held_runs() == [("leased", "c")]


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_a_leaderboard_ranks_feasible_trials_by_value_then_infeasible_by_violation(
    storage: Storage, direction: str
) -> None:
    """One metric with constraints: the feasible trials by value, then the infeasible ones by
    their violation (ties by value, then number), the top rows as the whole ranking's."""
    storage.create_study(make_spec("c", direction=direction))
    add(storage, "c", 40)
    rng = random.Random(3)
    points = []
    for i in range(40):
        value = float(rng.randint(0, 9))
        broken = [float(rng.choice([-1.0, 0.0, 0.5, 1.0])) for _ in range(2)]
        points.append((i, value, sum(max(c, 0.0) for c in broken)))
        trial = storage.claim("c", "w", 60)
        assert trial is not None
        values = {"value": value, **{f"constraint.{k}": c for k, c in enumerate(broken)}}
        storage.finish(
            "c", trial.number, trial.attempt, TrialOutcome(TrialState.COMPLETE, value, values), 1
        )
    sign = -1.0 if direction == "maximize" else 1.0
    expected = [n for n, _, _ in sorted(points, key=lambda p: (p[2], sign * p[1], p[0]))]
    assert [t.number for t in storage.leaderboard("c")] == expected
    ranked = storage.ranked("c", top=15)
    assert [r.trial.number for r in ranked] == expected[:15]
    assert [r.front for r in ranked] == [
        0 if p[2] == 0 else None for p in sorted(points, key=lambda p: (p[2], sign * p[1], p[0]))
    ][:15]
