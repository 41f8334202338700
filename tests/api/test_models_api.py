"""The model registry over REST and through the client: a server-side run saves bundles,
``promote`` registers the best trial, aliases move and are recorded; another project's models
do not exist for a token (404), and a read token moves nothing (403)."""

from __future__ import annotations

import time

import pytest

from tests.api.server import ServerProcess
from tests.api.test_api import api, new_token, unique
from tests.specs import spec_dict
from tuner.client import TunerAPIError, TunerClient


def test_promote_list_alias_and_history_and_isolation(server: ServerProcess) -> None:
    project = unique("models")
    write, read = new_token(server, project, "write"), new_token(server, project, "read")
    other = new_token(server, unique("stranger"), "admin")
    name = unique("saved")
    spec = spec_dict(
        name,
        plan=[{"algorithm": "random", "trials": 3}],
        objective={"function": "tests.objectives:saves_bundle"},
    )
    with api(server, write) as c:
        assert c.post("/studies", json=spec).status_code == 201
        assert c.post(f"/studies/{name}/promote", json={"model": "m"}).status_code == 409
        assert c.post(f"/studies/{name}/run").status_code == 202
        deadline = time.monotonic() + 90
        while c.get(f"/studies/{name}").json()["state"] != "complete":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        board = c.get(f"/studies/{name}/leaderboard").json()
        assert board, c.get(f"/studies/{name}/trials").json()["items"]
        best = board[0]
        worst = c.get(f"/studies/{name}/leaderboard").json()[-1]
    with TunerClient(server.url, write) as client:
        first = client.promote(name, "m", alias="production")
        assert first["version"]["version"] == 1 and first["moved"]["to_version"] == 1
        assert first["version"]["trial"] == best["number"]
        assert first["version"]["metrics"]["value"] == pytest.approx(best["value"])
        # a worse trial (the study minimises) is registered without the alias
        second = client.promote(name, "m", trial=worst["number"], alias="production")
        assert second["moved"] is None and "does not beat" in second["reason"]
        assert [m["name"] for m in client.models()] == ["m"]
        versions = client.model_versions("m")
        assert [v["version"] for v in versions] == [2, 1] and versions[1]["aliases"] == [
            "production"
        ]
        assert versions[0]["signature"]["inputs"][0]["name"] == "f0"
        moved = client.set_alias("m", "production", 2, reason="try v2")
        assert (moved["from_version"], moved["to_version"]) == (1, 2)
        client.set_alias("m", "production", 1, reason="roll back")
        history = client.alias_history("m")
        assert [(h["from_version"], h["to_version"]) for h in history] == [
            (None, 1),
            (1, 2),
            (2, 1),
        ]
        assert history[-1]["reason"] == "roll back" and history[-1]["actor"].startswith("token")
        with pytest.raises(TunerAPIError) as err:
            client.set_alias("m", "production", 7)
        assert err.value.status == 404
        with pytest.raises(TunerAPIError) as err:
            client.promote(name, "m", when="sometimes")
        assert err.value.status == 422 and err.value.field == "when"
    with api(server, write) as c:
        refused = c.post(f"/studies/{name}/promote", json={"model": "m", "retrain": True})
        assert refused.status_code == 403 and refused.json()["error"]["field"] == "retrain"
    with api(server, read) as c:
        assert c.get("/models/m").status_code == 200
        assert c.put("/models/m/aliases/production", json={"version": 2}).status_code == 403
    with TunerClient(server.url, other) as stranger:
        assert stranger.models() == []
        for call in (
            lambda: stranger.model_versions("m"),
            lambda: stranger.alias_history("m"),
            lambda: stranger.set_alias("m", "production", 2),
            lambda: stranger.promote(name, "m"),
        ):
            with pytest.raises(TunerAPIError) as err:
                call()
            assert err.value.status == 404
