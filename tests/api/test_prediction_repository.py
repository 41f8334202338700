"""The Open Inference gRPC model repository on a real ``tuner serve-models``, through Triton's own
client: ``load_model`` serves a version (``churn:2``), an alias (``churn``) or a model not served
yet, through the same load, check, warm and swap as an alias move, with no failed request under
load; ``unload_model`` stops serving one; both need a ``write`` token of the server's project."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from tests.api.prediction_server import (
    Load,
    PredictionServer,
    corrupt_version,
    fit_models,
    make_registry,
)
from tuner.registry import ModelRegistry
from tuner.testing.executors import wait_until


@pytest.fixture(scope="module")
def repository(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PredictionServer, ModelRegistry, dict[str, Any]]]:
    home = tmp_path_factory.mktemp("serving-repository")
    fitted = fit_models()
    db = f"sqlite:///{home / 'tuner.db'}"
    registry = make_registry(db, home / "store", fitted)
    server = PredictionServer(db, home / "store", home, "churn", grpc=True)
    try:
        yield server.start(), registry, fitted
    finally:
        server.stop()
        registry.close()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def client(server: PredictionServer) -> Any:
    import tritonclient.grpc as triton

    return triton.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")


def failure(call: Any) -> Any:
    import tritonclient.grpc as triton

    with pytest.raises(triton.InferenceServerException) as caught:
        call()
    return caught.value


def test_load_and_unload_need_a_write_token_of_the_project(
    repository: tuple[PredictionServer, ModelRegistry, dict[str, Any]],
) -> None:
    server, registry, _ = repository
    tokens = registry.storage.tokens
    reader, _ = tokens.create("default", "read", "reads")
    stranger, _ = tokens.create("other", "write", "another project")
    repo = client(server)
    error = failure(lambda: repo.load_model("churn:2"))
    assert error.status() == "StatusCode.UNAUTHENTICATED" and "Bearer" in error.message()
    error = failure(lambda: repo.load_model("churn:2", headers=bearer("tuner_nope")))
    assert error.status() == "StatusCode.UNAUTHENTICATED" and "token" in error.message()
    error = failure(lambda: repo.load_model("churn:2", headers=bearer(reader)))
    assert error.status() == "StatusCode.PERMISSION_DENIED" and "read token" in error.message()
    error = failure(lambda: repo.unload_model("churn", headers=bearer(stranger)))
    assert error.status() == "StatusCode.PERMISSION_DENIED" and "'other'" in error.message()
    assert server.model("churn")["version"] == 1  # nothing changed
    repo.close()


def test_load_a_version_an_alias_and_a_new_model_under_load_then_unload(
    repository: tuple[PredictionServer, ModelRegistry, dict[str, Any]],
) -> None:
    server, registry, fitted = repository
    writer, _ = registry.storage.tokens.create("default", "write", "deploys")
    repo = client(server)
    frame = fitted["X"].head(1).assign(colour=lambda f: f["colour"].astype(str))
    with Load(server.url, "churn", frame.to_dict(orient="records")[0]) as load:
        repo.load_model("churn:2", headers=bearer(writer))
        state = server.model("churn")
        assert state["version"] == 2 and state["ref"] == "churn:2"  # answered once swapped
        repo.load_model("churn", headers=bearer(writer))  # back to its production alias
        # requests in flight at the swap may still answer 2 (seen under load): wait for
        # answers to requests sent after it
        after = len(load.versions)
        assert wait_until(lambda: len(load.versions) >= after + 20)
    assert load.failures == [] and set(load.statuses) == {200}, load.failures[:3]
    assert {"1", "2"} <= set(load.versions) and load.versions[-1] == "1"
    assert server.model("churn")["ref"] == "churn@production"
    assert repo.is_model_ready("churn")

    assert not repo.is_model_ready("fraud")
    repo.load_model("fraud", headers=bearer(writer))  # not served before: added
    assert repo.is_model_ready("fraud")
    rows = fitted["plain"].head(3)
    expected = registry.load("fraud@production").predict(rows)
    r = httpx.post(
        f"{server.url}/v1/models/fraud:predict", json={"instances": rows.to_dict("records")}
    )
    assert r.status_code == 200 and np.allclose(r.json()["predictions"], expected, rtol=1e-6)
    assert httpx.get(f"{server.url}/v1/models").json() == {"models": ["churn", "fraud"]}

    repo.unload_model("fraud", headers=bearer(writer))
    assert not repo.is_model_ready("fraud")
    r = httpx.post(
        f"{server.url}/v1/models/fraud:predict", json={"instances": rows.to_dict("records")}
    )
    assert r.status_code == 404 and "fraud" in r.json()["error"]["message"]
    error = failure(lambda: repo.unload_model("fraud", headers=bearer(writer)))
    assert error.status() == "StatusCode.NOT_FOUND"
    for ref in ("churn:99", "nosuch", "churn@nosuch"):
        error = failure(lambda ref=ref: repo.load_model(ref, headers=bearer(writer)))
        assert error.status() == "StatusCode.NOT_FOUND", (ref, error.message())
    assert server.model("churn")["version"] == 1
    repo.close()


def test_a_version_that_fails_to_load_is_refused_and_the_old_one_keeps_serving(
    repository: tuple[PredictionServer, ModelRegistry, dict[str, Any]],
) -> None:
    server, registry, _ = repository
    writer, _ = registry.storage.tokens.create("default", "write", "deploys")
    bad = corrupt_version(registry, "churn")
    repo = client(server)
    error = failure(lambda: repo.load_model(f"churn:{bad}", headers=bearer(writer)))
    assert error.status() == "StatusCode.FAILED_PRECONDITION"
    assert "checksum" in error.message() and "still serving version 1" in error.message()
    state = server.model("churn")
    assert state["version"] == 1 and state["ref"] == "churn@production"
    assert state["refused"]["version"] == bad
    repo.close()


KSERVE_CLIENT = """
import sys

import grpc

from tuner.api.prediction.grpc_v2 import grpc_predict_v2_pb2 as pb
from tuner.api.prediction.grpc_v2 import grpc_predict_v2_pb2_grpc as pb_grpc

address, token, ref = sys.argv[1:]
stub = pb_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(address))
auth = (("authorization", f"Bearer {token}"),)
loaded = stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name=ref), metadata=auth)
print(loaded.model_name, loaded.isLoaded)
try:
    stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="nosuch"), metadata=auth)
except grpc.RpcError as exc:
    print(exc.code().name)
"""


def test_the_kserve_proto_names_the_model_in_its_own_field(
    repository: tuple[PredictionServer, ModelRegistry, dict[str, Any]],
) -> None:
    """The committed stubs (KServe's proto: ``model_name`` is field 1), in a process of their
    own (Triton's client registers the same symbols in this one)."""
    import subprocess
    import sys

    from tests.conftest import REPO

    server, registry, _ = repository
    writer, _ = registry.storage.tokens.create("default", "write", "deploys")
    address = f"127.0.0.1:{server.grpc_port}"
    for ref, version in (("churn:2", 2), ("churn@production", 1)):
        done = subprocess.run(
            [sys.executable, "-c", KSERVE_CLIENT, address, writer, ref],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["churn", "True", "NOT_FOUND"], done.stdout
        assert server.model("churn")["version"] == version


def test_with_two_workers_load_and_unload_reach_every_worker(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``--workers 2``: a repository call reaches one worker (one gRPC connection), which has
    the other make it too before answering; new connections, spread by the kernel over both
    workers, then all see the change. The index lists what every worker serves."""
    home = tmp_path_factory.mktemp("serving-repository-workers")
    fitted = fit_models()
    db = f"sqlite:///{home / 'tuner.db'}"
    registry = make_registry(db, home / "store", fitted)
    writer, _ = registry.storage.tokens.create("default", "write", "deploys")
    server = PredictionServer(db, home / "store", home, "churn", "--workers", "2", grpc=True)
    row = fitted["X"].head(1).assign(colour=lambda f: f["colour"].astype(str))
    body = Load(server.url, "churn", row.to_dict(orient="records")[0]).body

    def answers(model: str, n: int = 40) -> list[tuple[int, str]]:
        """``n`` requests, a new connection each: (status, served version)."""
        out = []
        for _ in range(n):
            r = httpx.post(f"{server.url}/v2/models/{model}/infer", json=body)
            out.append((r.status_code, r.json().get("model_version", "") if r.is_success else ""))
        return out

    def logged(text: str) -> bool:
        return all(f"[worker {i}] {text}" in server.log.read_text() for i in (0, 1))

    try:
        server.start()
        deadline = time.monotonic() + 120
        while not logged("model churn: version 1 loaded") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert set(answers("churn")) == {(200, "1")}
        repo = client(server)
        repo.load_model("churn:2", headers=bearer(writer))
        assert logged("model churn: version 2 swapped"), server.log.read_text()[-3000:]
        assert set(answers("churn")) == {(200, "2")}  # every worker, at once
        repo.load_model("fraud", headers=bearer(writer))
        fraud = {"instances": row.to_dict(orient="records")}
        for _ in range(40):
            r = httpx.post(f"{server.url}/v1/models/fraud:predict", json=fraud)
            assert r.status_code == 200, r.text
        index = repo.get_model_repository_index(headers=bearer(writer), as_json=True)
        assert sorted((m["name"], m["version"], m["state"]) for m in index["models"]) == [
            ("churn", "2", "READY"),
            ("fraud", "1", "READY"),
        ]
        # the REST form (Triton's HTTP repository extension) reaches every worker the same way
        rest = f"{server.url}/v2/repository"
        r = httpx.post(f"{rest}/models/fraud/unload", headers=bearer(writer), timeout=300)
        assert r.status_code == 200, r.text
        for _ in range(40):
            r = httpx.post(f"{server.url}/v1/models/fraud:predict", json=fraud)
            assert r.status_code == 404, r.text
        r = httpx.post(
            f"{rest}/models/churn%40production/load", headers=bearer(writer), timeout=300
        )
        assert r.status_code == 200, r.text
        assert set(answers("churn")) == {(200, "1")}
        reader, _ = registry.storage.tokens.create("default", "read", "reads")
        r = httpx.post(f"{rest}/index", headers=bearer(reader), json={"ready": True})
        assert r.status_code == 200, r.text
        assert r.json() == [{"name": "churn", "version": "1", "state": "READY", "reason": ""}]
        r = httpx.post(f"{rest}/models/churn%3A2/load", headers=bearer(reader))
        assert r.status_code == 403 and "read token" in r.json()["error"]["message"], r.text
        r = httpx.post(f"{rest}/models/churn%3A2/load")
        assert r.status_code == 401 and "Bearer" in r.json()["error"]["message"], r.text
        r = httpx.post(f"{rest}/models/nosuch/load", headers=bearer(writer), timeout=300)
        assert r.status_code == 404, r.text
        bad = corrupt_version(registry, "churn")
        error = failure(lambda: repo.load_model(f"churn:{bad}", headers=bearer(writer)))
        assert error.status() == "StatusCode.FAILED_PRECONDITION"
        assert "worker" in error.message() and "checksum" in error.message()
        assert "still serving version 1" in error.message()
        assert set(answers("churn")) == {(200, "1")}  # both still serve the old version
        repo.close()
    finally:
        server.stop()
        registry.close()
