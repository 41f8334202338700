"""Every route's authorisation from one table: route x token (none, unknown, read, write, admin,
revoked) x project (the study's own, another) -> the status class it must get. A route the
table does not list fails the test, so a new route comes with its row."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.api.server import ServerProcess
from tests.api.test_api import api, new_token, unique
from tests.specs import spec_dict

N, T, M, A = "{name}", "{number}", "{model}", "{alias}"
# (method, path, body, the role it needs)
ROUTES: list[tuple[str, str, dict | None, str]] = [
    ("GET", "/studies", None, "read"),
    ("POST", "/studies", {}, "write"),
    ("GET", f"/studies/{N}", None, "read"),
    ("DELETE", f"/studies/{N}", None, "write"),
    ("POST", f"/studies/{N}/run", None, "write"),
    ("GET", f"/studies/{N}/run", None, "read"),
    ("POST", f"/studies/{N}/stop", None, "write"),
    ("POST", f"/studies/{N}/resume", None, "write"),
    ("GET", f"/studies/{N}/leaderboard", None, "read"),
    ("GET", f"/studies/{N}/trials", None, "read"),
    ("GET", f"/studies/{N}/trials/{T}", None, "read"),
    ("POST", f"/studies/{N}/trials/claim", {"worker": "w"}, "write"),
    ("POST", f"/studies/{N}/trials/{T}/heartbeat", {"attempt": 1}, "write"),
    ("POST", f"/studies/{N}/trials/{T}/report", {"attempt": 1, "step": 0, "value": 1.0}, "write"),
    ("POST", f"/studies/{N}/trials/{T}/complete", {"attempt": 1, "value": 1.0}, "write"),
    ("POST", f"/studies/{N}/trials/{T}/prune", {"attempt": 1}, "write"),
    (
        "POST",
        f"/studies/{N}/trials/{T}/complete-and-claim",
        {"attempt": 1, "value": 1.0, "worker": "w"},
        "write",
    ),
    ("POST", f"/studies/{N}/trials/{T}/fail", {"attempt": 1, "error": "x"}, "write"),
    ("POST", f"/studies/{N}/promote", {"model": "m"}, "write"),  # 409: no complete trial
    ("GET", "/models", None, "read"),
    ("GET", f"/models/{M}", None, "read"),
    ("GET", f"/models/{M}/history", None, "read"),
    ("PUT", f"/models/{M}/aliases/{A}", {"version": 1}, "write"),
    # the web page's routes (api/web/routes.py)
    ("GET", "/session", None, "read"),
    ("GET", "/progress", None, "read"),
    ("GET", f"/studies/{N}/changes", None, "read"),
    ("GET", f"/studies/{N}/table", None, "read"),
    ("GET", f"/studies/{N}/plots", None, "read"),
    ("GET", f"/studies/{N}/history", None, "read"),
    ("GET", f"/studies/{N}/trials/{T}/attempts", None, "read"),
    ("GET", f"/studies/{N}/download", None, "read"),
    ("POST", "/studies/yaml", {}, "write"),
    # the model pages' routes (api/web/model_routes.py)
    ("GET", "/model-overview", None, "read"),
    ("GET", f"/studies/{N}/trials/{T}/model", None, "read"),
]
ROLES = ("read", "write", "admin")


def test_the_table_lists_every_route(server: ServerProcess) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    served = {
        (m.upper(), p.removeprefix("/api/v1").replace("{number}", T))
        for p, ops in spec["paths"].items()
        if p.startswith("/api/v1")
        for m in ops
    }
    listed = {(m, p) for m, p, _, _ in ROUTES}
    assert served == listed, f"routes without a row: {served - listed}; gone: {listed - served}"


@pytest.fixture(scope="module")
def tokens(server: ServerProcess) -> dict[str, str]:
    project, other = unique("own"), unique("other")
    out = {role: new_token(server, project, role) for role in ROLES}
    out |= {f"other-{role}": new_token(server, other, role) for role in ROLES}
    revoked = new_token(server, project, "admin")
    listed = server.tuner("token", "list", "--db", server.db).stdout.splitlines()
    revoked_id = next(line.split()[0] for line in listed[::-1] if project in line)
    assert server.tuner("token", "revoke", revoked_id, "--db", server.db).returncode == 0
    out["revoked"] = revoked
    _register_model(server, project)
    time.sleep(5.1)  # a revocation by another process reaches an SQLite server's cache
    return out


def _register_model(server: ServerProcess, project: str) -> None:
    """Model ``m`` of ``project``, version 1, in the server's registry."""
    import numpy as np
    from sklearn.linear_model import LinearRegression

    from tuner.models.store import ArtifactStore
    from tuner.registry import ModelRegistry
    from tuner.storage import Storage

    store = ArtifactStore(str(Path(server.env["TUNER_ARTIFACTS_DIR"]) / "models"))
    registry = ModelRegistry(Storage(server.db), store, project=project)
    X = np.array([[0.0], [1.0], [2.0]])
    registry.register_model(LinearRegression().fit(X, [0.0, 1.0, 2.0]), "m", example=X)
    registry.close()


def _study(server: ServerProcess, token: str) -> tuple[str, int]:
    """A fresh study of the token's project, with trial 0 claimed (attempt 1)."""
    name = unique("auth")
    with api(server, token) as c:
        assert c.post("/studies", json=spec_dict(name)).status_code == 201
        claimed = c.post(f"/studies/{name}/trials/claim", json={"worker": "w"}).json()
    return name, claimed["trial"]["number"]


@pytest.mark.parametrize(
    ("method", "path", "body", "needs"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES]
)
def test_each_route_answers_each_token_as_its_role_and_project_allow(
    server: ServerProcess,
    tokens: dict[str, str],
    method: str,
    path: str,
    body: dict | None,
    needs: str,
) -> None:
    shared = _study(server, tokens["admin"])  # for the tokens that may change nothing
    for who in ("none", "unknown", "revoked", *ROLES, *(f"other-{r}" for r in ROLES)):
        role = who.removeprefix("other-")
        if who in ("none", "unknown", "revoked"):
            expected = {401}
        elif ROLES.index(role) < ROLES.index(needs):
            expected = {403}
        elif who.startswith("other-") and (N in path or M in path):
            expected = {404}  # another project's study or model does not exist for it
        else:
            expected = {200, 201, 202, 204, 409}  # allowed (409: the trial's state says no)
        name, number = _study(server, tokens["admin"]) if 409 in expected else shared
        route = path.replace(M, "m").replace(A, "production")
        url = f"{server.url}/api/v1{route.replace(N, name).replace(T, str(number))}"
        headers = (
            {}
            if who == "none"
            else {"Authorization": "Bearer " + (tokens.get(who) or "tnr_not-a-token")}
        )
        payload = spec_dict(unique("made")) if body == {} else body
        got = httpx.request(method, url, json=payload, headers=headers, timeout=30).status_code
        assert got in expected, f"{method} {path} as {who}: {got}, expected {expected}"
