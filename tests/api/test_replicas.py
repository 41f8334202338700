"""Several servers on one PostgreSQL database: any of them serves the API, a server-side run is
executed by exactly one of them, and when that one dies another takes the run over within a
lease; the client fails over between them."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.server import RUNS_ALLOWED, ServerProcess
from tests.api.test_api import api, unique
from tests.conftest import drop_postgres_schema, postgres_schema_url
from tests.specs import spec_dict
from tuner.client import TunerClient


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    url, schema = postgres_schema_url()
    # a lease of 6 s, not the tests' 2 s: on a loaded machine a renewal late by 2 s hands a
    # run to the other replica (as designed), and these tests check who holds it; one config
    # folder, so one token
    servers = [ServerProcess(url, tmp_path, lease=6.0, args=RUNS_ALLOWED).start()]
    servers.append(ServerProcess(url, tmp_path, lease=6.0, args=RUNS_ALLOWED).start())
    try:
        yield servers
    finally:
        for s in servers:
            s.stop()
        drop_postgres_schema(schema)


def pid_of(worker: str | None) -> int:
    return int((worker or "x:0").rpartition(":")[2])


def test_one_replica_runs_a_study_and_another_takes_over_when_it_dies(
    replicas: list[ServerProcess],
) -> None:
    first, second = replicas
    name = unique("shared")
    spec = spec_dict(
        name,
        plan=[{"algorithm": "random", "trials": 12}],
        objective={"function": "tests.objectives:sleepy_quadratic"},
        executor={"type": "local", "workers": 2},
    )
    with api(first) as a, api(second) as b:
        assert a.post("/studies", json=spec).status_code == 201
        assert b.get(f"/studies/{name}").status_code == 200  # any replica serves it
        assert b.post(f"/studies/{name}/run").json()["running"] is True
        assert a.post(f"/studies/{name}/run").json()["running"] is True  # not a second run
        deadline = time.monotonic() + 60
        while b.get(f"/studies/{name}").json()["done"] < 3:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        trials = b.get(f"/studies/{name}/trials").json()["items"]
        runners = {pid_of(t["worker"]) for t in trials if t["worker"]}
        assert runners == {second.proc.pid}, runners  # the replica asked runs it, alone
    second.kill()  # the holder dies mid-trial
    with TunerClient(f"{second.url},{first.url}", first.token) as client:  # fails over
        deadline = time.monotonic() + 120
        while client.study(name).info()["state"] != "complete":
            assert time.monotonic() < deadline, "no replica took the run over"
            time.sleep(0.2)
        trials = list(client.study(name).trials())
    assert sorted(t["number"] for t in trials) == list(range(12))
    assert all(t["state"] == "complete" for t in trials)
    finishers = Counter(pid_of(t["worker"]) for t in trials)
    assert set(finishers) == {first.proc.pid, second.proc.pid}, finishers
    with api(first) as a:
        assert a.get(f"/studies/{name}/run").json()["running"] is False


def test_a_stop_on_one_replica_stops_the_run_on_the_other(replicas: list[ServerProcess]) -> None:
    first, second = replicas
    name = unique("stopped")
    spec = spec_dict(
        name,
        plan=[{"algorithm": "random", "trials": 30}],
        objective={"function": "tests.objectives:sleepy_quadratic"},
        executor={"type": "local", "workers": 1},
    )
    with api(first) as a, api(second) as b:
        a.post("/studies", json=spec)
        assert a.post(f"/studies/{name}/run").json()["running"] is True
        time.sleep(1.0)
        stopped = b.post(f"/studies/{name}/stop")
        assert stopped.status_code == 202
        deadline = time.monotonic() + 30
        while (
            a.get(f"/studies/{name}").json()["running"] > 0
            or a.get(f"/studies/{name}/run").json()["running"]
        ):
            assert time.monotonic() < deadline, "the holder did not stop"
            time.sleep(0.2)
        assert a.get(f"/studies/{name}").json()["state"] == "stopped"


def test_a_lone_server_restarted_resumes_its_run(tmp_path: Path) -> None:
    url, schema = postgres_schema_url()
    server = ServerProcess(url, tmp_path, args=RUNS_ALLOWED).start()
    name = unique("alone")
    try:
        with api(server) as c:
            c.post(
                "/studies",
                json=spec_dict(
                    name,
                    plan=[{"algorithm": "random", "trials": 10}],
                    objective={"function": "tests.objectives:sleepy_quadratic"},
                    executor={"type": "local", "workers": 1},
                ),
            )
            c.post(f"/studies/{name}/run")
            deadline = time.monotonic() + 60
            while c.get(f"/studies/{name}").json()["done"] < 2:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        server.kill()
        server.start()  # the dead holder is on this host: its run is taken back at once
        with api(server) as c:
            assert c.get(f"/studies/{name}/run").json()["running"] is True
            deadline = time.monotonic() + 120
            while c.get(f"/studies/{name}").json()["state"] != "complete":
                assert time.monotonic() < deadline
                time.sleep(0.2)
            trials = c.get(f"/studies/{name}/trials").json()["items"]
        assert all(t["state"] == "complete" for t in trials) and len(trials) == 10
    finally:
        server.stop()
        drop_postgres_schema(schema)
