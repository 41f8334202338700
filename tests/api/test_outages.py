"""The database goes away for a while (a private PostgreSQL cluster, stopped and started again)
while a server, remote workers and runners are busy: the API says 503 with Retry-After, workers
and runners wait, and afterwards every planned trial is done exactly once, none run twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.api.server import RUNS_ALLOWED, ServerProcess
from tests.api.test_api import api, unique
from tests.conftest import REPO
from tests.postgres_cluster import PrivateCluster
from tests.specs import spec_dict

# seconds the database is down; longer than the servers' 2 s lease (the suite keeps it short;
# OUTAGE_SECONDS=60 runs the same scenarios with the longest outage)
OUTAGE = float(os.environ.get("OUTAGE_SECONDS", "8"))


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    c = PrivateCluster()
    c.start()
    yield c
    c.destroy()


def slow_study(name: str, trials: int) -> dict:
    return spec_dict(
        name,
        plan=[{"algorithm": "random", "trials": trials}],
        objective={"function": "tests.objectives:slow_quadratic"},
        executor={"type": "local", "workers": 2},
    )


def done(server: ServerProcess, name: str) -> int:
    with api(server) as c:
        got = c.get(f"/studies/{name}")
    if got.status_code == 404:  # the runner has not made the study yet
        return 0
    assert got.status_code == 200, got.text
    return int(got.json()["done"])


def wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.2)


def each_trial_once(server: ServerProcess, name: str, planned: int) -> None:
    with api(server) as c:
        trials = c.get(f"/studies/{name}/trials", params={"limit": 1000}).json()["items"]
    assert sorted(t["number"] for t in trials) == list(range(planned))
    assert all(t["state"] == "complete" for t in trials), [t["state"] for t in trials]
    # nothing ran twice: every trial finished in its first attempt, or its lost attempt's late
    # result counted (an attempt taken for lost that nobody ran again)
    reruns = [t for t in trials if t["attempt"] != 1]
    assert reruns == [], [(t["number"], t["attempt"], t["worker"]) for t in reruns]


def outage(cluster: PrivateCluster, during=None) -> None:
    cluster.stop()
    try:
        if during is not None:
            during()
        time.sleep(OUTAGE)
    finally:
        cluster.start()


def test_the_api_says_503_while_the_database_is_down(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    server = ServerProcess(cluster.database(), tmp_path).start()
    try:
        with api(server) as c:
            assert c.post("/studies", json=spec_dict(unique("down"))).status_code == 201

            def check() -> None:
                listing = c.get("/studies")
                assert listing.status_code == 503 and listing.headers["Retry-After"]
                assert listing.json()["error"]["code"] == "unavailable"
                health = httpx.get(f"{server.url}/healthz")
                assert health.status_code == 503 and "unavailable" in health.json()["database"]

            cluster.stop()
            try:
                check()
            finally:
                cluster.start()
            wait_for(lambda: httpx.get(f"{server.url}/healthz").status_code == 200)
            assert c.get("/studies").status_code == 200
        assert "Traceback" not in server.log.read_text()
    finally:
        server.stop()


def test_remote_workers_and_a_server_side_run_lose_and_repeat_nothing(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    server = ServerProcess(cluster.database(), tmp_path, args=RUNS_ALLOWED).start()
    remote, local = unique("remote"), unique("onserver")
    try:
        with api(server) as c:
            c.post("/studies", json=slow_study(remote, 12))
            c.post("/studies", json=slow_study(local, 10))
            assert c.post(f"/studies/{local}/run").status_code == 202
        workers = [
            server.worker(
                remote, "tests.objectives:slow_quadratic", env={"TUNER_TEST_SLEEP": "1.0"}
            )
            for _ in range(2)
        ]
        wait_for(lambda: done(server, remote) >= 2 and done(server, local) >= 2)
        outage(cluster)
        outputs = [w.communicate(timeout=300) for w in workers]
        assert all(w.returncode == 0 for w in workers), outputs
        wait_for(lambda: done(server, local) == 10, timeout=180)
        each_trial_once(server, remote, 12)
        each_trial_once(server, local, 10)
    finally:
        server.stop()


def test_a_runner_keeps_finished_outcomes_until_the_database_is_back(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    name = unique("runner")
    db = cluster.database()
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(slow_study(name, 10)))
    run = subprocess.Popen(
        [sys.executable, "-m", "tuner.cli", "run", str(spec), "--no-progress", "--db", db],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**__import__("os").environ, "TUNER_TEST_SLEEP": "1.0", "TUNER_LEASE_SECONDS": "2"},
    )
    server = ServerProcess(db, tmp_path / "srv")  # only to read the study
    (tmp_path / "srv").mkdir()
    server.start()
    try:
        wait_for(lambda: done(server, name) >= 2)
        outage(cluster)
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        assert "database is unavailable" in err and "back after" in err
        each_trial_once(server, name, 10)
    finally:
        server.stop()
        if run.poll() is None:
            run.kill()


def test_connections_cut_at_random_lose_and_repeat_nothing(tmp_path: Path) -> None:
    import threading

    from tests.conftest import POSTGRES_URL, drop_postgres_schema, postgres_schema_url
    from tests.tcp_proxy import CuttingProxy

    url, schema = postgres_schema_url()
    proxy = CuttingProxy(("127.0.0.1", 5432))
    through = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert through != url and POSTGRES_URL in url
    server = ServerProcess(through, tmp_path, args=RUNS_ALLOWED).start()
    stop = threading.Event()
    name = unique("cut")
    try:
        with api(server) as c:
            c.post("/studies", json=slow_study(name, 12))
        workers = [
            server.worker(name, "tests.objectives:slow_quadratic", env={"TUNER_TEST_SLEEP": "0.5"})
            for _ in range(2)
        ]
        cutter = threading.Thread(target=proxy.cut_at_random, args=(0.3, stop), daemon=True)
        cutter.start()
        outputs = [w.communicate(timeout=300) for w in workers]
        stop.set()
        assert all(w.returncode == 0 for w in workers), outputs
        assert proxy.cuts >= 3
        each_trial_once(server, name, 12)
    finally:
        stop.set()
        server.stop()
        proxy.close()
        drop_postgres_schema(schema)
