"""The prediction server, for real: ``tuner serve-models`` on a free loopback port, on
PostgreSQL (push: alias moves are NOTIFYed) and on SQLite (pull every second). KServe v1 and
Open Inference v2 answer what the embedded Predictor answers; bad rows are 400s naming row and
feature; swaps under concurrent load fail no request; a corrupt version is refused while the old
one keeps serving; readiness waits for warm models; metrics; tokens keep to their project."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
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
from tests.conftest import REPO, drop_postgres_schema, postgres_schema_url
from tuner.registry import ModelRegistry


@pytest.fixture(scope="module")
def fitted() -> dict[str, Any]:
    return fit_models()


@pytest.fixture(scope="module")
def pg(
    tmp_path_factory: pytest.TempPathFactory, fitted: dict[str, Any]
) -> Iterator[tuple[PredictionServer, ModelRegistry, str]]:
    """A server on PostgreSQL with push (no pull) and gRPC, started with a read token of its
    project."""
    home = tmp_path_factory.mktemp("serving-pg")
    db, schema = postgres_schema_url()
    registry = make_registry(db, home / "store", fitted)
    token, _ = registry.storage.tokens.create("default", "read", "prediction server")
    server = PredictionServer(
        db,
        home / "store",
        home,
        "churn",
        "fraud",
        "--token",
        token,
        "--max-body",
        "200000",
        grpc=True,
    )
    try:
        yield server.start(), registry, db
    finally:
        server.stop()
        registry.close()
        drop_postgres_schema(schema)


@pytest.fixture(scope="module")
def lite(
    tmp_path_factory: pytest.TempPathFactory, fitted: dict[str, Any]
) -> Iterator[tuple[PredictionServer, ModelRegistry]]:
    """A server on SQLite that pulls every second."""
    home = tmp_path_factory.mktemp("serving-sqlite")
    db = f"sqlite:///{home / 'tuner.db'}"
    registry = make_registry(db, home / "store", fitted)
    server = PredictionServer(db, home / "store", home, "churn", "--pull", "1s")
    try:
        yield server.start(), registry
    finally:
        server.stop()
        registry.close()


def v2_body(frame: Any) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": name,
                "shape": [len(frame)],
                "datatype": "BYTES" if name == "colour" else "FP64",
                "data": [str(v) if name == "colour" else float(v) for v in frame[name]],
            }
            for name in frame.columns
        ]
    }


@pytest.mark.parametrize("model", ["churn", "fraud"])
def test_v1_and_v2_answer_what_the_embedded_predictor_answers(
    pg: tuple[PredictionServer, ModelRegistry, str], fitted: dict[str, Any], model: str
) -> None:
    server, registry, _ = pg
    frame = fitted["X"].head(25).assign(colour=lambda f: f["colour"].astype(str))
    expected = registry.load(f"{model}@production").predict(frame)
    objects = frame.to_dict(orient="records")
    arrays = frame.to_numpy().tolist()
    url = f"{server.url}/v1/models/{model}:predict"
    for instances in (objects, arrays):
        r = httpx.post(url, json={"instances": instances})
        assert r.status_code == 200, r.text
        assert np.allclose(r.json()["predictions"], expected, rtol=1e-6)
    r = httpx.post(f"{server.url}/v2/models/{model}/infer", json={"id": "x", **v2_body(frame)})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["id"] == "x" and out["model_name"] == model and out["model_version"] == "1"
    assert out["outputs"][0]["shape"] == [25]
    assert np.allclose(out["outputs"][0]["data"], expected, rtol=1e-6)
    # one [rows, features] tensor, in the signature's order, answers the same
    numbers = frame[["a", "b", "c"]].to_numpy()
    if model == "churn":
        matrix = [[*row, c] for row, c in zip(numbers.tolist(), frame["colour"], strict=True)]
        flat = [v for row in matrix for v in row]
        body = {"inputs": [{"name": "x", "shape": [25, 4], "datatype": "BYTES", "data": flat}]}
        r = httpx.post(f"{server.url}/v2/models/{model}/infer", json=body)
        assert r.status_code == 200, r.text
        assert np.allclose(r.json()["outputs"][0]["data"], expected, rtol=1e-6)


ROW = {"a": 0.1, "b": -0.3, "c": 1.2, "colour": "red"}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"c": None}, "rows[1].c", "null"),
        ({"a": "1.5"}, "rows[1].a", "must be a number"),
        ({"colour": "pink"}, "rows[1].colour", "unknown category 'pink'"),
        ({"b": float("inf")}, "rows[1].b", "not a finite number"),
        ({"b": float("nan")}, "rows[1].b", "not a finite number"),
        ({"colour": [1]}, "rows[1].colour", "one category"),
    ],
)
def test_a_bad_row_refuses_the_batch_naming_row_and_feature(
    pg: tuple[PredictionServer, ModelRegistry, str], change: dict[str, Any], field: str, words: str
) -> None:
    server, _, _ = pg
    rows = [ROW, {**ROW, **change}, ROW]
    content = json.dumps({"instances": rows}).encode()  # NaN, Infinity: what Python sends
    r = httpx.post(f"{server.url}/v1/models/churn:predict", content=content)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["field"] == field and words in error["message"], error


def test_missing_features_wrong_shapes_and_bad_bodies_are_400s_never_500s(
    pg: tuple[PredictionServer, ModelRegistry, str],
) -> None:
    server, _, _ = pg
    v1 = f"{server.url}/v1/models/churn:predict"
    missing = {k: v for k, v in ROW.items() if k != "b"}
    cases: list[tuple[str, Any, str | None]] = [
        (v1, {"instances": [ROW, missing]}, "rows[1].b"),
        (v1, {"instances": [[1.0, 2.0]]}, "rows[0]"),
        (v1, {"instances": []}, "instances"),
        (v1, {"rows": [ROW]}, "instances"),
        (v1, [1, 2], "instances"),
        (v1, {"instances": [ROW, [1, 2, 3, "red"]]}, "rows[1]"),
        (f"{server.url}/v2/models/churn/infer", {"inputs": [{"name": "a"}]}, "inputs[0].shape"),
        (
            f"{server.url}/v2/models/churn/infer",
            {"inputs": [{"name": "a", "shape": [1], "datatype": "FP64", "data": [1.0]}]},
            "rows[0].b",
        ),
        (
            f"{server.url}/v2/models/churn/infer",
            {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2]}]},
            "inputs[0].data",
        ),
    ]
    for url, body, field in cases:
        r = httpx.post(url, json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]["field"] == field, (body, r.text)
    r = httpx.post(v1, content=b"{not json")
    assert r.status_code == 400 and r.json()["error"]["field"] == "body"
    r = httpx.post(v1, json={"instances": [ROW] * 5000})  # over --max-body 200000
    assert r.status_code == 413, r.text
    r = httpx.post(f"{server.url}/v1/models/nope:predict", json={"instances": [ROW]})
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]


def test_health_metadata_and_readiness_waited_for_warm_models(
    pg: tuple[PredictionServer, ModelRegistry, str],
) -> None:
    server, _, _ = pg
    assert server.readiness[0] == 503 and server.readiness[-1] == 200  # not ready until warm
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{server.url}/v2/health/ready").json() == {"ready": True}
    assert httpx.get(f"{server.url}/v2/models/churn/ready").json()["ready"] is True
    meta = httpx.get(f"{server.url}/v2/models/churn").json()
    assert [i["name"] for i in meta["inputs"]] == ["a", "b", "c", "colour"]
    assert meta["inputs"][3]["datatype"] == "BYTES" and meta["platform"] == "xgboost"
    described = server.model("fraud")
    assert described["state"] == "AVAILABLE" and described["ref"] == "fraud@production"
    assert httpx.get(f"{server.url}/v1/models").json() == {"models": ["churn", "fraud"]}


def test_metrics_count_requests_errors_latency_and_versions(
    pg: tuple[PredictionServer, ModelRegistry, str],
) -> None:
    server, _, _ = pg
    httpx.post(f"{server.url}/v1/models/fraud:predict", json={"instances": [ROW]})
    httpx.post(f"{server.url}/v1/models/fraud:predict", json={"instances": [{"a": 1}]})
    text = httpx.get(f"{server.url}/metrics").text
    assert 'tuner_prediction_requests_total{model="fraud",protocol="v1"}' in text
    assert 'tuner_prediction_errors_total{code="invalid_input",model="fraud",protocol="v1"}' in text
    assert 'tuner_prediction_latency_seconds_bucket{le="0.01",model="fraud",protocol="v1"}' in text
    assert 'tuner_model_version{model="fraud"} 1.0' in text
    assert 'tuner_model_ready{model="fraud"} 1.0' in text


def _swap_under_load(
    server: PredictionServer, registry: ModelRegistry, to: int, fitted: dict[str, Any]
) -> Load:
    row = fitted["X"].head(1).assign(colour=lambda f: f["colour"].astype(str))
    with Load(server.url, "churn", row.to_dict(orient="records")[0]) as load:
        time.sleep(1.0)
        registry.set_alias("churn", "production", to, "test swap")
        server.wait_for("churn", lambda s: s["version"] == to)
        time.sleep(1.0)
    return load


def test_push_swaps_under_load_without_a_failed_request_and_rolls_back(
    pg: tuple[PredictionServer, ModelRegistry, str], fitted: dict[str, Any]
) -> None:
    server, registry, _ = pg
    load = _swap_under_load(server, registry, 2, fitted)
    assert load.failures == [] and set(load.statuses) == {200}, load.failures[:3]
    assert {"1", "2"} <= set(load.versions) and load.versions[-1] == "2"
    text = httpx.get(f"{server.url}/metrics").text
    assert 'tuner_model_version{model="churn"} 2.0' in text
    assert 'tuner_model_swaps_total{model="churn",outcome="swapped"}' in text
    load = _swap_under_load(server, registry, 1, fitted)  # a rollback is a move back
    assert load.failures == [] and load.versions[-1] == "1"


def test_a_corrupt_version_is_refused_and_the_old_one_keeps_serving(
    pg: tuple[PredictionServer, ModelRegistry, str], fitted: dict[str, Any]
) -> None:
    server, registry, _ = pg
    serving = server.model("churn")["version"]
    bad = corrupt_version(registry, "churn")
    row = fitted["X"].head(1).assign(colour=lambda f: f["colour"].astype(str))
    with Load(server.url, "churn", row.to_dict(orient="records")[0]) as load:
        registry.set_alias("churn", "production", bad, "a broken version")
        state = server.wait_for("churn", lambda s: s["refused"] is not None)
        time.sleep(0.5)
    assert state["version"] == serving and state["state"] == "AVAILABLE"
    assert state["refused"]["version"] == bad and "checksum" in state["refused"]["reason"]
    assert load.failures == [] and set(load.versions) == {str(serving)}
    text = httpx.get(f"{server.url}/metrics").text
    assert f'tuner_model_refused_version{{model="churn"}} {bad}.0' in text
    assert "refused" in server.log.read_text()
    registry.set_alias("churn", "production", serving, "back")


def test_pull_swaps_under_load_without_a_failed_request(
    lite: tuple[PredictionServer, ModelRegistry], fitted: dict[str, Any]
) -> None:
    server, registry = lite
    load = _swap_under_load(server, registry, 2, fitted)
    assert load.failures == [] and set(load.statuses) == {200}, load.failures[:3]
    assert {"1", "2"} <= set(load.versions) and load.versions[-1] == "2"
    bad = corrupt_version(registry, "churn")
    registry.set_alias("churn", "production", bad)
    state = server.wait_for("churn", lambda s: s["refused"] is not None)
    assert state["version"] == 2 and state["refused"]["version"] == bad


def serve_models(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tuner.cli", "serve-models", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_token_serves_its_own_project_only(
    pg: tuple[PredictionServer, ModelRegistry, str], tmp_path: Path
) -> None:
    _, registry, db = pg
    stranger, _ = registry.storage.tokens.create("other", "read", "another project")
    done = serve_models("churn", "--db", db, "--token", stranger, "--port", "1")
    assert done.returncode == 1 and "churn" in done.stderr, done.stderr
    done = serve_models("churn", "--db", db, "--token", "not-a-token", "--port", "1")
    assert done.returncode == 1 and "token" in done.stderr, done.stderr
    done = serve_models("churn@nosuch", "--db", db, "--port", "1")
    assert done.returncode == 1 and "nosuch" in done.stderr, done.stderr


# -- gRPC: Triton's own client, unchanged (it registers the proto's symbols itself, so this test
# process never imports the server's generated modules) ------------------------------------------


def test_triton_grpc_client_gets_the_embedded_predictions(
    pg: tuple[PredictionServer, ModelRegistry, str], fitted: dict[str, Any]
) -> None:
    import tritonclient.grpc as triton

    server, registry, _ = pg
    client = triton.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("churn") and not client.is_model_ready("nope")
    meta = client.get_model_metadata("churn", as_json=True)
    assert [i["name"] for i in meta["inputs"]] == ["a", "b", "c", "colour"]
    frame = fitted["X"].head(30).assign(colour=lambda f: f["colour"].astype(str))
    serving = server.model("churn")["version"]
    expected = registry.load(f"churn:{serving}").predict(frame)
    inputs = []
    for name in ("a", "b", "c"):
        tensor = triton.InferInput(name, [30], "FP64")
        tensor.set_data_from_numpy(frame[name].to_numpy(dtype=np.float64))
        inputs.append(tensor)
    colour = triton.InferInput("colour", [30], "BYTES")
    colour.set_data_from_numpy(frame["colour"].to_numpy(dtype=object))
    inputs.append(colour)
    result = client.infer("churn", inputs)
    assert np.allclose(result.as_numpy("predict"), expected, rtol=1e-6)
    assert result.get_response().model_version == str(serving)

    bad = frame["colour"].to_numpy(dtype=object)
    bad[7] = "pink"
    colour.set_data_from_numpy(bad)
    with pytest.raises(triton.InferenceServerException) as caught:
        client.infer("churn", inputs)
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "rows[7].colour" in caught.value.message() and "pink" in caught.value.message()
    with pytest.raises(triton.InferenceServerException) as caught:
        client.infer("churn", inputs[:3])  # no colour
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "colour" in caught.value.message()
    text = httpx.get(f"{server.url}/metrics").text
    assert 'tuner_prediction_requests_total{model="churn",protocol="grpc"}' in text
    client.close()


def test_the_committed_grpc_modules_are_what_the_proto_generates(tmp_path: Path) -> None:
    folder = REPO / "api" / "prediction" / "grpc_v2"
    proto = folder / "grpc_predict_v2.proto"
    subprocess.run(
        [
            sys.executable, "-m", "grpc_tools.protoc", f"-I{folder}", f"--python_out={tmp_path}",
            f"--grpc_python_out={tmp_path}", f"--pyi_out={tmp_path}", str(proto),
        ],
        check=True,
    )  # fmt: skip
    for name in ("grpc_predict_v2_pb2.py", "grpc_predict_v2_pb2.pyi"):
        assert (tmp_path / name).read_text() == (folder / name).read_text()
    generated = (tmp_path / "grpc_predict_v2_pb2_grpc.py").read_text()
    committed = (folder / "grpc_predict_v2_pb2_grpc.py").read_text()
    assert committed == generated.replace(
        "import grpc_predict_v2_pb2 as",
        "from tuner.api.prediction.grpc_v2 import grpc_predict_v2_pb2 as",
    )


def test_workers_share_the_port_and_every_one_swaps(
    tmp_path_factory: pytest.TempPathFactory, fitted: dict[str, Any]
) -> None:
    home = tmp_path_factory.mktemp("serving-workers")
    db = f"sqlite:///{home / 'tuner.db'}"
    registry = make_registry(db, home / "store", fitted)
    server = PredictionServer(db, home / "store", home, "churn", "--pull", "1s", "--workers", "2")
    row = {"a": 0.1, "b": -0.3, "c": 1.2, "colour": "red"}

    body = Load(server.url, "churn", row).body

    def versions(n: int = 40) -> set[str]:
        seen = set()
        for _ in range(n):  # a new connection each: the kernel spreads them over the workers
            r = httpx.post(f"{server.url}/v2/models/churn/infer", json=body)
            assert r.status_code == 200, r.text
            seen.add(r.json()["model_version"])
        return seen

    def logged(text: str) -> bool:
        log = server.log.read_text()
        return all(f"[worker {i}] {text}" in log for i in (0, 1))

    try:
        server.start()
        _wait(lambda: logged("model churn: version 1 loaded"), server)
        assert versions() == {"1"}
        registry.set_alias("churn", "production", 2)
        _wait(lambda: logged("model churn: version 2 swapped"), server)
        assert versions() == {"2"}
        # one /metrics over both workers, whichever answers: 80 requests counted in all, and
        # each live worker's served version (a pid label)
        for _ in range(4):
            text = httpx.get(f"{server.url}/metrics").text
            assert 'tuner_prediction_requests_total{model="churn",protocol="v2"} 80.0' in text
            served = re.findall(
                r'^tuner_model_version\{model="churn",pid="\d+"\} (\S+)$', text, re.M
            )
            assert served == ["2.0", "2.0"], text
    finally:
        server.stop()
        registry.close()


def _wait(test: Any, server: PredictionServer, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return
        time.sleep(0.2)
    raise AssertionError(server.log.read_text()[-3000:])


def test_a_version_with_an_onnx_export_is_served_by_onnxruntime(
    tmp_path: Path, fitted: dict[str, Any]
) -> None:
    """``tuner models export M:N --format onnx`` and the server scores one row per call with
    onnxruntime (raced faster at export), answering what the native model answers (float32)."""
    import xgboost as xgb

    from tuner.models.store import ArtifactStore
    from tuner.storage import Storage

    X = fitted["X"][["a", "b", "c"]]
    y = (X["a"] + X["b"] > 0).astype(int)
    db = f"sqlite:///{tmp_path / 'tuner.db'}"
    registry = ModelRegistry(Storage(db), ArtifactStore(str(tmp_path / "store")), actor="test")
    model = xgb.XGBClassifier(n_estimators=30, max_depth=3).fit(X, y)
    registry.register_model(model, "numbers", example=X, alias="production")
    _, made = registry.export("numbers:1")
    assert made.runtime("row") == "onnx", made.timings  # onnxruntime won the race for one row
    native = registry.load("numbers", runtime="native")
    server = PredictionServer(db, tmp_path / "store", tmp_path, "numbers").start()
    try:
        described = httpx.get(f"{server.url}/v1/models/numbers").json()
        assert described["runtime"] == "onnx" and described["flavor"] == "xgboost"
        rows = X.head(20)
        got = httpx.post(
            f"{server.url}/v1/models/numbers:predict",
            json={"instances": rows.to_numpy().tolist()},
        )
        assert got.status_code == 200, got.text
        np.testing.assert_allclose(
            np.asarray(got.json()["predictions"]), native.predict_batch(rows), atol=1e-4
        )
        bad = httpx.post(
            f"{server.url}/v1/models/numbers:predict", json={"instances": [[1.0, "x", 2.0]]}
        )
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "rows[0].b"
    finally:
        server.stop()
        registry.close()
