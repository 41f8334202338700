"""Stateful fuzzing of the API (hypothesis state machines over studies, trials and tokens against
a real server): whatever the order of calls, no 5xx, a trial's state always agrees with what the
calls did, a stale attempt never changes a trial, and another project's token sees nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tests.api.server import ServerProcess
from tests.api.test_api import new_token
from tests.conftest import drop_postgres_schema, postgres_schema_url
from tests.specs import spec_dict

TRIALS = 6


class ApiMachine(RuleBasedStateMachine):
    """A model of what the server must hold: each study's trials we claimed (number ->
    attempt), completed (number -> value) and failed; the server is checked against it."""

    server: ServerProcess
    own: str
    other: str

    studies = Bundle("studies")

    def __init__(self) -> None:
        super().__init__()
        self.http = httpx.Client(
            base_url=f"{self.server.url}/api/v1",
            timeout=30,
            headers={"Authorization": f"Bearer {self.own}"},
        )
        self.stranger = httpx.Client(
            base_url=f"{self.server.url}/api/v1",
            timeout=30,
            headers={"Authorization": f"Bearer {self.other}"},
        )
        self.claimed: dict[str, dict[int, int]] = {}
        self.completed: dict[str, dict[int, float]] = {}
        self.stopped: set[str] = set()

    def teardown(self) -> None:
        self.http.close()
        self.stranger.close()

    def call(
        self, method: str, path: str, body: Any = None, client: httpx.Client | None = None
    ) -> httpx.Response:
        r = (client or self.http).request(method, path, json=body)
        assert r.status_code < 500, f"{method} {path}: {r.status_code} {r.text[:300]}"
        if r.status_code >= 400:
            assert set(r.json()["error"]) >= {"code", "message"}, r.text
        return r

    @rule(target=studies, retries=st.integers(0, 2))
    def create(self, retries: int) -> str:
        name = f"sm-{uuid.uuid4().hex[:8]}"
        spec = spec_dict(name, plan=[{"algorithm": "random", "trials": TRIALS}], retries=retries)
        assert self.call("POST", "/studies", spec).status_code == 201
        self.claimed[name], self.completed[name] = {}, {}
        return name

    @rule(
        body=st.dictionaries(
            st.sampled_from(["name", "space", "plan", "trials", "x"]),
            st.one_of(
                st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)
            ),
        )
    )
    def create_garbage(self, body: dict[str, Any]) -> None:
        assert self.call("POST", "/studies", body).status_code in (201, 409, 422)

    @rule(name=studies)
    def claim(self, name: str) -> None:
        answer = self.call("POST", f"/studies/{name}/trials/claim", {"worker": "sm"})
        if answer.status_code == 404:
            return
        trial = answer.json()["trial"]
        if name in self.stopped:
            assert trial is None and answer.json()["stopped"] is True
        if trial is not None:
            assert trial["state"] == "running"
            self.claimed[name][trial["number"]] = trial["attempt"]

    @rule(name=studies, data=st.data())
    def complete(self, name: str, data: st.DataObject) -> None:
        running = self.claimed.get(name, {})
        if not running:
            return
        number = data.draw(st.sampled_from(sorted(running)))
        value = data.draw(st.floats(-10, 10, allow_nan=False))
        r = self.call(
            "POST",
            f"/studies/{name}/trials/{number}/complete",
            {"attempt": running.pop(number), "value": value},
        )
        assert r.status_code in (200, 404), r.text
        if r.status_code == 200:
            self.completed[name][number] = value

    @rule(name=studies, data=st.data())
    def stale_complete(self, name: str, data: st.DataObject) -> None:
        done = self.completed.get(name, {})
        if not done:
            return
        number = data.draw(st.sampled_from(sorted(done)))
        r = self.call(
            "POST", f"/studies/{name}/trials/{number}/complete", {"attempt": 99, "value": 12345.0}
        )
        assert r.status_code in (404, 409)

    @rule(name=studies, data=st.data())
    def fail(self, name: str, data: st.DataObject) -> None:
        running = self.claimed.get(name, {})
        if not running:
            return
        number = data.draw(st.sampled_from(sorted(running)))
        r = self.call(
            "POST",
            f"/studies/{name}/trials/{number}/fail",
            {"attempt": running.pop(number), "error": "boom"},
        )
        assert r.status_code in (200, 404)

    @rule(name=studies)
    def stop(self, name: str) -> None:
        if self.call("POST", f"/studies/{name}/stop").status_code == 202:
            self.stopped.add(name)

    @rule(name=studies)
    def resume(self, name: str) -> None:
        if self.call("POST", f"/studies/{name}/resume").status_code == 200:
            self.stopped.discard(name)

    @rule(name=consumes(studies))
    def delete(self, name: str) -> None:
        assert self.call("DELETE", f"/studies/{name}").status_code in (204, 404)
        self.claimed.pop(name, None)
        self.completed.pop(name, None)
        assert self.call("GET", f"/studies/{name}").status_code == 404

    @rule(name=studies, path=st.sampled_from(["", "/trials", "/leaderboard", "/run", "/trials/0"]))
    def stranger_sees_nothing(self, name: str, path: str) -> None:
        r = self.call("GET", f"/studies/{name}{path}", client=self.stranger)
        assert r.status_code == 404
        r = self.call(
            "POST", f"/studies/{name}/trials/claim", {"worker": "x"}, client=self.stranger
        )
        assert r.status_code == 404

    @invariant()
    def the_server_agrees(self) -> None:
        for name, done in self.completed.items():
            page = self.call("GET", f"/studies/{name}/trials?limit=1000").json()
            trials = {t["number"]: t for t in page["items"]}
            for number, value in done.items():
                assert trials[number]["state"] == "complete"
                assert trials[number]["value"] == value
            for number, attempt in self.claimed[name].items():
                t = trials[number]
                assert t["state"] == "running" and t["attempt"] == attempt
            for t in trials.values():
                if t["state"] == "waiting":
                    assert t["lease_expires_at"] is None
                if t["state"] == "complete":
                    assert t["value"] is not None


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def patient(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server whose leases outlast the machine's steps (no trial is taken back meanwhile)."""
    home = tmp_path_factory.mktemp("stateful")
    schema = None
    if request.param == "sqlite":
        db = f"sqlite:///{home / 'tuner.db'}"
    else:
        db, schema = postgres_schema_url()
    srv = ServerProcess(db, home, lease=600.0).start()
    try:
        yield srv
    finally:
        srv.stop()
        if schema:
            drop_postgres_schema(schema)


def test_any_sequence_of_calls_keeps_the_server_consistent(patient: ServerProcess) -> None:
    server = patient
    machine = type(
        "Machine",
        (ApiMachine,),
        {
            "server": server,
            "own": server.token,
            "other": new_token(server, f"stranger-{uuid.uuid4().hex[:6]}", "admin"),
        },
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=12,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
