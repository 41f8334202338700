"""Adaptive batching on a real ``tuner serve-models`` (``--max-batch 64 --batch-wait 100ms``):
concurrent one-row requests, REST v1, v2 and gRPC, each get their own row's prediction (what the
embedded predictor answers), and a bad row fails only the request that sent it, never the others
scored in the same model call."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pytest

from tests.api.prediction_server import PredictionServer, fit_models, make_registry
from tests.api.test_prediction import serve_models, v2_body
from tuner.registry import ModelRegistry

CLIENTS = 16


@pytest.fixture(scope="module")
def batching(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PredictionServer, ModelRegistry, dict[str, Any]]]:
    """``churn`` (XGBoost with a category: scored through its flavor), ``fraud`` (a
    scikit-learn pipeline with a category), ``score`` (XGBoost of numbers only: scored from the
    float matrix) and ``boosted`` (a scaler and gradient boosting on numbers only: one
    DataFrame from the float matrix), served with batching on, REST and gRPC."""
    import xgboost as xgb

    home = tmp_path_factory.mktemp("serving-batching")
    fitted = fit_models()
    db = f"sqlite:///{home / 'tuner.db'}"
    registry = make_registry(db, home / "store", fitted)
    numbers = fitted["X"][["a", "b", "c"]]
    model = xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(numbers, fitted["y"])
    registry.register_model(model, "score", example=numbers, alias="production")
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(StandardScaler(), GradientBoostingClassifier(n_estimators=10))
    registry.register_model(
        pipeline.fit(numbers, fitted["y"]), "boosted", example=numbers, alias="production"
    )
    server = PredictionServer(
        db,
        home / "store",
        home,
        "churn",
        "fraud",
        "score",
        "boosted",
        "--max-batch",
        "64",
        "--batch-wait",
        "100ms",
        grpc=True,
    )
    try:
        yield server.start(), registry, fitted
    finally:
        server.stop()
        registry.close()


def together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` at once, from as many threads, released by one barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def batched_calls(server: PredictionServer, model: str) -> tuple[float, float]:
    """(model calls, requests scored by them) of ``model`` so far, from /metrics."""
    text = httpx.get(f"{server.url}/metrics").text
    found = {}
    for kind in ("count", "sum"):
        match = re.search(
            rf'^tuner_prediction_batch_requests_{kind}{{model="{model}"}} (\S+)$', text, re.M
        )
        found[kind] = float(match.group(1)) if match else 0.0
    return found["count"], found["sum"]


def frame_of(fitted: dict[str, Any], model: str) -> Any:
    frame = fitted["X"].head(CLIENTS).assign(colour=lambda f: f["colour"].astype(str))
    return frame[["a", "b", "c"]] if model in ("score", "boosted") else frame


@pytest.mark.parametrize("model", ["churn", "fraud", "score", "boosted"])
def test_concurrent_one_row_requests_each_get_their_own_rows_prediction(
    batching: tuple[PredictionServer, ModelRegistry, dict[str, Any]], model: str
) -> None:
    server, registry, fitted = batching
    frame = frame_of(fitted, model)
    expected = registry.load(f"{model}@production").predict(frame)
    rows = frame.to_dict(orient="records")
    calls_before, requests_before = batched_calls(server, model)

    def v1(i: int) -> Callable[[], Any]:
        url = f"{server.url}/v1/models/{model}:predict"
        return lambda: httpx.post(url, json={"instances": [rows[i]]}, timeout=30)

    def v2(i: int) -> Callable[[], Any]:
        url = f"{server.url}/v2/models/{model}/infer"
        return lambda: httpx.post(url, json=v2_body(frame.iloc[i : i + 1]), timeout=30)

    answers = together([(v1 if i % 2 else v2)(i) for i in range(CLIENTS)])
    for i, r in enumerate(answers):
        assert r.status_code == 200, r.text
        got = r.json()["predictions"] if i % 2 else r.json()["outputs"][0]["data"]
        assert len(got) == 1 and np.isclose(got[0], expected[i], rtol=1e-6), (i, got)
    calls, requests = batched_calls(server, model)
    assert requests - requests_before == CLIENTS  # every request went through the batcher
    assert calls - calls_before < CLIENTS  # and some model call scored several of them


@pytest.mark.parametrize(
    ("model", "change", "field", "words"),
    [
        ("churn", {"colour": "pink"}, "rows[0].colour", "unknown category 'pink'"),
        ("churn", {"b": float("nan")}, "rows[0].b", "not a finite number"),
        ("score", {"b": float("inf")}, "rows[0].b", "not a finite number"),
        ("score", {"a": "x"}, "rows[0].a", "must be a number"),
        ("boosted", {"c": float("nan")}, "rows[0].c", "not a finite number"),
        ("fraud", {"c": None}, "rows[0].c", "null"),
    ],
)
def test_a_bad_row_fails_only_its_own_request(
    batching: tuple[PredictionServer, ModelRegistry, dict[str, Any]],
    model: str,
    change: dict[str, Any],
    field: str,
    words: str,
) -> None:
    import json

    server, registry, fitted = batching
    frame = frame_of(fitted, model)
    expected = registry.load(f"{model}@production").predict(frame)
    rows = frame.to_dict(orient="records")
    bad = 5
    url = f"{server.url}/v1/models/{model}:predict"

    def call(i: int) -> Callable[[], Any]:
        row = {**rows[i], **change} if i == bad else rows[i]
        content = json.dumps({"instances": [row]}).encode()  # NaN, Infinity as Python sends
        return lambda: httpx.post(url, content=content, timeout=30)

    answers = together([call(i) for i in range(CLIENTS)])
    for i, r in enumerate(answers):
        if i == bad:
            assert r.status_code == 400, r.text
            error = r.json()["error"]
            assert error["field"] == field and words in error["message"], error
        else:
            assert r.status_code == 200, (i, r.text)
            assert np.isclose(r.json()["predictions"][0], expected[i], rtol=1e-6)


def test_grpc_requests_are_batched_and_a_bad_row_fails_only_its_own(
    batching: tuple[PredictionServer, ModelRegistry, dict[str, Any]],
) -> None:
    import tritonclient.grpc as triton

    server, registry, fitted = batching
    frame = frame_of(fitted, "churn")
    expected = registry.load("churn@production").predict(frame)
    bad = 3
    calls_before, _ = batched_calls(server, "churn")

    def call(i: int) -> Callable[[], Any]:
        def infer() -> Any:
            client = triton.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
            inputs = []
            for name in ("a", "b", "c"):
                tensor = triton.InferInput(name, [1], "FP64")
                tensor.set_data_from_numpy(frame[name].to_numpy(dtype=np.float64)[i : i + 1])
                inputs.append(tensor)
            colour = triton.InferInput("colour", [1], "BYTES")
            value = "pink" if i == bad else frame["colour"].iloc[i]
            colour.set_data_from_numpy(np.array([value], dtype=object))
            inputs.append(colour)
            try:
                return float(client.infer("churn", [*inputs]).as_numpy("predict")[0])
            except triton.InferenceServerException as exc:
                return exc
            finally:
                client.close()

        return infer

    answers = together([call(i) for i in range(CLIENTS)])
    for i, answer in enumerate(answers):
        if i == bad:
            assert isinstance(answer, triton.InferenceServerException), answer
            assert answer.status() == "StatusCode.INVALID_ARGUMENT"
            assert "rows[0].colour" in answer.message() and "pink" in answer.message()
        else:
            assert np.isclose(answer, expected[i], rtol=1e-6), (i, answer)
    calls, _ = batched_calls(server, "churn")
    assert calls - calls_before < CLIENTS


def test_batching_options_are_checked() -> None:
    done = serve_models("churn", "--db", "sqlite:///nowhere.db", "--max-batch", "0")
    assert done.returncode != 0 and "--max-batch" in done.stderr, done.stderr
    done = serve_models("churn", "--db", "sqlite:///nowhere.db", "--batch-wait", "soon")
    assert done.returncode != 0 and "--batch-wait" in done.stderr, done.stderr
