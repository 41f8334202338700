"""The REST API over a real uvicorn server, on SQLite and PostgreSQL: auth and projects, the
worker protocol's semantics, bad input, OpenAPI."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.server import ServerProcess
from tests.specs import spec_dict


def api(server: ServerProcess, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token or server.token}"}
    return httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=30)


def new_token(server: ServerProcess, project: str, role: str) -> str:
    out = server.tuner("token", "create", "--project", project, "--role", role, "--db", server.db)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_study_create_read_list_delete(server: ServerProcess) -> None:
    name = unique("crud")
    with api(server) as c:
        created = c.post("/studies", json=spec_dict(name))
        assert created.status_code == 201
        body = created.json()
        assert body["name"] == name and body["planned"] == 10 and body["state"] == "created"
        assert body["spec"]["space"]["x"] == {"type": "float", "low": -5.0, "high": 5.0}
        assert c.post("/studies", json=spec_dict(name)).status_code == 409
        assert name in [s["name"] for s in c.get("/studies").json()]
        got = c.get(f"/studies/{name}").json()
        assert got["spec"]["plan"][1] == {"algorithm": "grid", "trials": 4, "narrow": 0.5}
        assert c.delete(f"/studies/{name}").status_code == 204
        gone = c.get(f"/studies/{name}")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_tokens_projects_and_roles(server: ServerProcess) -> None:
    vision = new_token(server, unique("vision"), "write")
    other = new_token(server, unique("other"), "admin")
    reader = new_token(server, "default", "read")
    name = unique("iso")
    with api(server, vision) as c:
        assert c.post("/studies", json=spec_dict(name)).status_code == 201
        assert [s["name"] for s in c.get("/studies").json()] == [name]
    with api(server, other) as c:  # another project's study does not exist for it
        assert c.get(f"/studies/{name}").status_code == 404
        assert c.post(f"/studies/{name}/trials/claim", json={}).status_code == 404
        assert c.get("/studies").json() == []
        assert c.post("/studies", json=spec_dict(name)).status_code == 201  # same name: fine
    with api(server, reader) as c:
        assert c.get("/studies").status_code == 200
        denied = c.post("/studies", json=spec_dict(unique("ro")))
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    for headers in ({}, {"Authorization": "Bearer tnr_wrong"}, {"Authorization": "Basic x"}):
        r = httpx.get(f"{server.url}/api/v1/studies", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_claim_complete_is_atomic_idempotent_and_stale_reports_are_refused(
    server: ServerProcess,
) -> None:
    name = unique("proto")
    with api(server) as c:
        c.post("/studies", json=spec_dict(name, plan=[{"algorithm": "random", "trials": 3}]))
        claimed = c.post(f"/studies/{name}/trials/claim", json={"worker": "w1"}).json()
        trial = claimed["trial"]
        assert trial["state"] == "running" and trial["attempt"] == 1 and not claimed["complete"]
        n = trial["number"]
        ok = c.post(
            f"/studies/{name}/trials/{n}/report", json={"attempt": 1, "step": 1, "value": 0.5}
        )
        assert ok.status_code == 200 and ok.json() == {"prune": False}  # no pruner: never
        assert c.post(f"/studies/{name}/trials/{n}/heartbeat", json={"attempt": 1}).json()[
            "lease_expires_at"
        ]
        done = c.post(f"/studies/{name}/trials/{n}/complete", json={"attempt": 1, "value": 2.0})
        assert done.status_code == 200 and done.json()["value"] == 2.0
        assert done.json()["intermediate"] == [[1, 0.5]]
        again = c.post(f"/studies/{name}/trials/{n}/complete", json={"attempt": 1, "value": 2.0})
        assert again.status_code == 200  # a retried complete: same answer
        other = c.post(f"/studies/{name}/trials/{n}/complete", json={"attempt": 1, "value": 3.0})
        assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"
        stale = c.post(
            f"/studies/{name}/trials/{n}/report", json={"attempt": 1, "step": 2, "value": 0.1}
        )
        assert stale.status_code == 409
        # a dict result needs the study's metric (none here: a single number is taken)
        t2 = c.post(f"/studies/{name}/trials/claim", json={"worker": "w2"}).json()["trial"]
        assert t2["number"] != n
        r = c.post(
            f"/studies/{name}/trials/{t2['number']}/complete",
            json={"attempt": 1, "value": {"a": 1.0, "b": 2.0}},
        )
        assert r.status_code == 422 and r.json()["error"]["field"] == "value"
        failed = c.post(
            f"/studies/{name}/trials/{t2['number']}/fail",
            json={"attempt": 1, "error": "out of memory"},
        )
        assert failed.json()["state"] == "failed" and failed.json()["error"] == "out of memory"
        page = c.get(f"/studies/{name}/trials", params={"limit": 1, "offset": 0}).json()
        assert page["total"] == 3 and len(page["items"]) == 1  # random queues its round at once
        board = c.get(f"/studies/{name}/leaderboard", params={"top": 5}).json()
        assert [t["number"] for t in board] == [n]


def test_a_retried_complete_and_claim_gets_the_same_next_trial(server: ServerProcess) -> None:
    name = unique("retry")
    with api(server) as c:
        c.post("/studies", json=spec_dict(name, plan=[{"algorithm": "random", "trials": 3}]))
        first = c.post(f"/studies/{name}/trials/claim", json={"worker": "w1"}).json()["trial"]
        url = f"/studies/{name}/trials/{first['number']}/complete-and-claim"
        body = {"attempt": 1, "value": 1.0, "worker": "w1"}
        nxt = c.post(url, json=body).json()["trial"]
        again = c.post(url, json=body).json()["trial"]  # as if the first answer was lost
        assert (again["number"], again["attempt"]) == (nxt["number"], nxt["attempt"])
        states = sorted(t["state"] for t in c.get(f"/studies/{name}/trials").json()["items"])
        assert states == ["complete", "running", "waiting"]  # nothing claimed twice


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (b'{"name": ', 400, "malformed_json", None),
        (b"[1, 2]", 422, "invalid_request", None),
        (
            b'{"name": "x", "space": {"a": {"type": "float", "low": 2, "high": 1}}, "trials": 3,'
            b' "objective": "m:f"}',
            422,
            "invalid_spec",
            "space.a.low",
        ),
        (
            b'{"name": "x", "space": {"a": [1, 2]}, "plan": [{"algorithm": "nope", "trials": 1}],'
            b' "objective": "m:f"}',
            422,
            "invalid_spec",
            "plan[0].algorithm",
        ),
        (
            b'{"name": "x", "space": {"a": [1, 2]}, "trials": -1, "objective": "m:f"}',
            422,
            "invalid_spec",
            "trials",
        ),
    ],
)
def test_bad_study_bodies(
    server: ServerProcess, body: bytes, status: int, code: str, field: str | None
) -> None:
    with api(server) as c:
        r = c.post("/studies", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"]
    if field is not None:
        assert error["field"] == field
    assert "Traceback" not in r.text


def test_bad_values_and_unknown_things_and_huge_bodies(server: ServerProcess) -> None:
    name = unique("bad")
    with api(server) as c:
        c.post("/studies", json=spec_dict(name))
        n = c.post(f"/studies/{name}/trials/claim", json={}).json()["trial"]["number"]
        for value in (b"NaN", b"Infinity", b'"high"', b"true", b'{"loss": NaN}'):
            r = c.post(
                f"/studies/{name}/trials/{n}/complete",
                content=b'{"attempt": 1, "value": ' + value + b"}",
                headers={"content-type": "application/json"},
            )
            assert r.status_code == 422 and r.json()["error"]["field"] == "value", value
        assert (
            c.post(
                f"/studies/{name}/trials/{n}/complete", json={"attempt": "one", "value": 1}
            ).json()["error"]["field"]
            == "attempt"
        )
        assert (
            c.post(f"/studies/{name}/trials/999/heartbeat", json={"attempt": 1}).status_code == 404
        )
        assert c.get("/studies/ghost/leaderboard").status_code == 404
        assert c.get(f"/studies/{name}/trials", params={"state": "sleepy"}).status_code == 422
        huge = c.post(
            "/studies",
            content=b"{" + b" " * (2 << 20) + b"}",
            headers={"content-type": "application/json"},
        )
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"
        # the trial is untouched by all of that
        assert c.get(f"/studies/{name}/trials/{n}").json()["state"] == "running"


def test_openapi_documents_every_route_and_its_errors(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/docs").status_code == 200
    spec = httpx.get(f"{server.url}/openapi.json").json()
    routes = [
        (path, method)
        for path, ops in spec["paths"].items()
        for method in ops
        if path.startswith("/api/v1")
    ]
    assert len(routes) >= 14
    for path, method in routes:
        op = spec["paths"][path][method]
        assert op.get("summary"), (path, method)
        assert {"401", "403", "422"} <= set(op["responses"]), (path, method)
        assert op.get("security"), (path, method)
    # a study's body is described field by field (tests/api/test_study_document.py)
    body = spec["paths"]["/api/v1/studies"]["post"]["requestBody"]["content"]["application/json"]
    assert {"name", "objective", "space", "plan"} <= set(body["schema"]["properties"])
    assert "$ref" not in str(body["schema"])


def test_first_start_stores_an_admin_token_for_this_user_only(server: ServerProcess) -> None:
    path = server.config_dir / "credentials.json"
    assert path.stat().st_mode & 0o777 == 0o600
    listing = server.tuner("token", "list", "--db", server.db).stdout
    assert "default" in listing and "admin" in listing and server.token not in listing


def finishes_each_trial_once(c: httpx.Client, name: str, planned: int, timeout: float) -> None:
    """Wait for the study to complete; then each planned trial is complete, once."""
    import time

    deadline = time.monotonic() + timeout
    while c.get(f"/studies/{name}").json()["state"] != "complete":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    trials = c.get(f"/studies/{name}/trials").json()["items"]
    assert sorted(t["number"] for t in trials) == list(range(planned))
    assert all(t["state"] == "complete" for t in trials)


def test_the_server_runs_stops_and_resumes_a_study_on_its_own_executor(
    server: ServerProcess,
) -> None:
    import time

    name = unique("srv")
    spec = spec_dict(
        name,
        plan=[{"algorithm": "random", "trials": 8}],
        objective={"function": "tests.objectives:sleepy_quadratic"},
    )
    with api(server) as c:
        c.post("/studies", json=spec)
        started = c.post(f"/studies/{name}/run")
        assert started.status_code == 202 and started.json()["running"] is True
        deadline = time.monotonic() + 60
        while c.get(f"/studies/{name}").json()["done"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        stopped = c.post(f"/studies/{name}/stop").json()
        assert stopped["running"] is False
        after_stop = c.get(f"/studies/{name}").json()
        assert after_stop["running"] == 0 and after_stop["state"] == "stopped"
        assert c.post(f"/studies/{name}/run").json()["running"] is True  # resume
        finishes_each_trial_once(c, name, 8, timeout=120)
        assert c.get(f"/studies/{name}/run").json() == {
            "study": name,
            "running": False,
            "error": None,
        }
        bad = c.post(
            "/studies", json=spec_dict(unique("nofn"), objective={"function": "tests.nowhere:fn"})
        )
        assert bad.status_code == 201  # remote workers may have code the server lacks...
        refused = c.post(f"/studies/{bad.json()['name']}/run")  # ...but it cannot run it
        assert refused.status_code == 422 and refused.json()["error"]["field"] == (
            "objective.function"
        )


def test_a_restarted_server_resumes_its_runs_and_not_the_stopped_ones(
    server: ServerProcess,
) -> None:
    import time

    own = ServerProcess(
        server.db, server.config_dir, lease=2.0, args=server.args
    ).start()  # killed below
    running, stopped = unique("resumed"), unique("stopped")
    try:
        with api(own) as c:
            for name in (running, stopped):
                c.post(
                    "/studies",
                    json=spec_dict(
                        name,
                        plan=[{"algorithm": "random", "trials": 8}],
                        objective={"function": "tests.objectives:sleepy_quadratic"},
                    ),
                )
                assert c.post(f"/studies/{name}/run").json()["running"] is True
            deadline = time.monotonic() + 180  # two runs of sleepy trials on a loaded machine
            while min(c.get(f"/studies/{n}").json()["done"] for n in (running, stopped)) < 2:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert c.post(f"/studies/{stopped}/stop").json()["running"] is False
            done_when_stopped = c.get(f"/studies/{stopped}").json()["done"]
        own.kill()  # mid-trial: SIGKILL, no shutdown
        own.start()
        with api(own) as c:
            # resumed by the restarted server, or taken over by the shared one (the same
            # database: a replica) within a lease
            finishes_each_trial_once(c, running, 8, timeout=180)
            assert c.get(f"/studies/{running}/run").json()["running"] is False
            # the stopped study stayed stopped: not resumed, nothing more done
            assert c.get(f"/studies/{stopped}/run").json()["running"] is False
            assert c.get(f"/studies/{stopped}").json()["done"] == done_when_stopped
    finally:
        own.stop()
