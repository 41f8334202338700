"""Who may run what: a write token submits studies and has remote workers run them, but the
server runs code only as its operator allowed; a study's demands are capped (real servers)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.server import ServerProcess
from tests.api.test_api import api, unique
from tests.specs import spec_dict

EVIL = """
import pathlib
pathlib.Path(__file__).with_name("IMPORTED").write_text("the server imported me")

def fn(params):
    pathlib.Path(__file__).with_name("RAN").write_text("the server ran me")
    return 1.0
"""


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server as started by default (no --allow-runs), in a folder holding a module that
    leaves a mark when imported."""
    home = tmp_path_factory.mktemp("closed")
    (home / "evil.py").write_text(EVIL)
    srv = ServerProcess(f"sqlite:///{home / 'tuner.db'}", home, cwd=home).start()
    try:
        yield srv
    finally:
        srv.stop()


def _marks(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir() if p.name in ("IMPORTED", "RAN", "PWNED"))


def test_by_default_a_write_token_runs_no_code_on_the_server(closed: ServerProcess) -> None:
    marker = closed.config_dir / "PWNED"
    with api(closed) as c:
        for objective, executor in (
            ({"command": f"touch {marker} {{x}}"}, "command"),
            ({"function": "evil:fn"}, "local"),
        ):
            name = unique("rce")
            created = c.post(
                "/studies", json=spec_dict(name, objective=objective, executor=executor)
            )
            assert created.status_code == 201  # remote workers may run it on their machines
            refused = c.post(f"/studies/{name}/run")
            assert refused.status_code == 403, refused.text
            assert "--allow-runs" in refused.json()["error"]["message"]
            assert c.get(f"/studies/{name}/run").json()["running"] is False
    assert _marks(closed.config_dir) == []  # nothing imported, nothing run


def test_submitting_a_study_imports_reads_and_reaches_nothing(closed: ServerProcess) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with api(closed) as c:
        for objective, executor in (
            (
                {
                    "trainer": "sklearn",
                    "data": "/etc/shadow",
                    "label": "y",
                    "metric": "roc_auc",
                    "estimator": "evil.Model",
                },
                "local",
            ),
            ({"function": "evil:fn"}, {"type": "ray", "address": f"127.0.0.1:{port}"}),
        ):
            body = spec_dict(unique("quiet"), objective=objective, executor=executor)
            body.pop("direction")
            created = c.post("/studies", json=body)
            assert created.status_code == 201, created.text
    assert _marks(closed.config_dir) == []


def test_allowed_runs_refuse_what_the_operator_did_not_name(server: ServerProcess) -> None:
    """The shared server allows runs of functions under ``tests`` only."""
    with api(server) as c:
        cases = [
            ({"command": "python3 -c 'print(1)' {x}"}, "command", "objective.command"),
            ({"function": "experiments.demo.objectives:xgboost_cv"}, "local", "objective.function"),
            ({"function": "tests.objectives:os.system"}, "local", "objective.function"),
            ({"function": "tests.objectives:quadratic"}, {"type": "ray"}, "executor.type"),
        ]
        for objective, executor, field in cases:
            name = unique("deny")
            c.post("/studies", json=spec_dict(name, objective=objective, executor=executor))
            refused = c.post(f"/studies/{name}/run")
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["field"] == field


def test_a_study_without_an_objective_is_for_remote_workers(server: ServerProcess) -> None:
    name = unique("workers-only")
    body = spec_dict(name)
    del body["objective"]
    with api(server) as c:
        created = c.post("/studies", json=body)
        assert created.status_code == 201 and "objective" not in created.json()["spec"]
        refused = c.post(f"/studies/{name}/run")
        assert refused.status_code == 422
        assert refused.json()["error"]["field"] == "objective"
        assert "remote workers" in refused.json()["error"]["message"]
        claim = c.post(f"/studies/{name}/trials/claim", json={"worker": "w"})
        assert claim.json()["trial"] is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"plan": None, "trials": 10**20}, "trials"),
        ({"plan": None, "trials": "1e20"}, "trials"),
        ({"executor": {"type": "local", "workers": 100_000}}, "executor.workers"),
        (
            {"plan": [{"algorithm": "random", "trials": 5, "parallelism": 10**7}]},
            "plan[0].parallelism",
        ),
        ({"trial_timeout": 1e12}, "trial_timeout"),
        ({"retries": 10**6}, "retries"),
    ],
)
def test_what_a_study_asks_of_the_server_is_capped(
    server: ServerProcess, change: dict, field: str
) -> None:
    body = {k: v for k, v in {**spec_dict(unique("big")), **change}.items() if v is not None}
    with api(server) as c:
        refused = c.post("/studies", json=body)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["field"] == field and "allows" in error["message"]


def test_bodies_too_large_or_missing_or_invalid_say_so(server: ServerProcess) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(2048):
            yield b" " * 1024

    with api(server) as c:
        chunked = c.post("/studies", content=chunks(), headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "too_large"
        missing = c.post("/studies")
        assert missing.status_code == 422
        assert missing.json()["error"]["field"] == "body"
        name = unique("val")
        c.post("/studies", json=spec_dict(name))
        claim = c.post(f"/studies/{name}/trials/claim", json={"worker": "w"}).json()["trial"]
        nan = c.post(
            f"/studies/{name}/trials/{claim['number']}/complete",
            json={"attempt": claim["attempt"], "value": "NaN"},
        )
        assert nan.status_code == 422
        assert not nan.json()["error"]["message"].startswith("Value error")


def test_load_if_exists_returns_the_same_study_and_refuses_another(
    server: ServerProcess,
) -> None:
    name = unique("again")
    with api(server) as c:
        assert c.post("/studies", json=spec_dict(name)).status_code == 201
        again = c.post("/studies", params={"exists_ok": "true"}, json=spec_dict(name))
        assert again.status_code == 200 and again.json()["name"] == name
        other = spec_dict(name, space={"y": {"type": "float", "low": 0, "high": 1}})
        clash = c.post("/studies", params={"exists_ok": "true"}, json=other)
        assert clash.status_code == 409 and clash.json()["error"]["field"] == "space"
        fresh = c.post("/studies", params={"exists_ok": "true"}, json=spec_dict(unique("new")))
        assert fresh.status_code == 201


def test_the_run_route_documents_its_refusals(server: ServerProcess) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    run = spec["paths"]["/api/v1/studies/{name}/run"]["post"]["responses"]
    assert {"403", "422"} <= set(run)


def test_a_server_side_run_saves_models_under_the_server_s_artifacts_folder(
    server: ServerProcess,
) -> None:
    name = unique("saved")
    spec = spec_dict(
        name,
        plan=[{"algorithm": "random", "trials": 2}],
        objective={"function": "tests.objectives:saves_model"},
    )
    with api(server) as c:
        c.post("/studies", json=spec)
        assert c.post(f"/studies/{name}/run").status_code == 202
        deadline = time.monotonic() + 60
        while c.get(f"/studies/{name}").json()["state"] != "complete":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        trials = c.get(f"/studies/{name}/trials").json()["items"]
    root = Path(server.env["TUNER_ARTIFACTS_DIR"])
    for t in trials:
        saved = Path(t["meta"]["artifact"])
        assert saved.is_relative_to(root) and (saved / "model.json").exists(), t["meta"]
