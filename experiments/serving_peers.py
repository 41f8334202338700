"""The serving benchmark's peer servers, run with the Python of a separate virtual environment
that holds the peer (never one of Tuner's dependencies); this file imports nothing of Tuner.

    /tmp/peers/bin/python experiments/serving_peers.py mlflow-save BUNDLE OUT_DIR
    /tmp/peers/bin/mlflow models serve -m OUT_DIR --env-manager local -h 127.0.0.1 -p PORT
    /tmp/kserve/bin/python experiments/serving_peers.py kserve BUNDLE NAME --http_port PORT

Both load the XGBoost booster of a Tuner bundle (``model/model.ubj``): the same model the
prediction server serves; or, for the scikit-learn pipeline, ``MODEL.joblib`` (the bench writes
the bundle's estimator there: the peers hold no skops) scored with ``predict_proba``. KServe's
XGBoost model follows the anchors' finding: ``inplace_predict`` on the instances (its stock
DMatrix pattern refuses a model trained from a DataFrame). KServe binds 0.0.0.0 with no option
to change it; the benchmark patches its uvicorn config to loopback.
"""

from __future__ import annotations

import sys
from typing import Any


def mlflow_save(bundle: str, out: str) -> None:
    if bundle.endswith(".joblib"):
        import joblib
        import mlflow.sklearn

        # what mlflow serves by default is the class label: ask for probabilities, as served
        mlflow.sklearn.save_model(
            joblib.load(bundle),
            out,
            serialization_format="cloudpickle",  # its default skops refuses the trees
            pyfunc_predict_fn="predict_proba",
        )
        return
    import mlflow.xgboost
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(f"{bundle}/model/model.ubj")
    mlflow.xgboost.save_model(booster, out)


def kserve(bundle: str, argv: list[str]) -> None:
    import gc

    import kserve as ks
    import numpy as np
    import uvicorn
    import xgboost as xgb

    original = uvicorn.Config.__init__

    def loopback(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["host"] = "127.0.0.1"
        original(self, *args, **kwargs)

    uvicorn.Config.__init__ = loopback  # type: ignore[method-assign]

    class Booster(ks.Model):  # type: ignore[misc]
        def __init__(self, name: str) -> None:
            super().__init__(name)
            self.booster = xgb.Booster()
            self.booster.load_model(f"{bundle}/model/model.ubj")
            self.ready = True

        def predict(self, payload: Any, headers: Any = None) -> Any:
            rows = np.asarray(payload["instances"], dtype=np.float64)
            return {"predictions": self.booster.inplace_predict(rows).tolist()}

    class Pipeline(ks.Model):  # type: ignore[misc]
        def __init__(self, name: str) -> None:
            import warnings

            import joblib

            super().__init__(name)
            warnings.filterwarnings("ignore")  # rows as arrays: "X has no feature names"
            self.pipeline = joblib.load(bundle)
            self.ready = True

        def predict(self, payload: Any, headers: Any = None) -> Any:
            rows = np.asarray(payload["instances"], dtype=np.float64)
            return {"predictions": self.pipeline.predict_proba(rows)[:, 1].tolist()}

    name = argv.pop(0)
    model = Pipeline(name) if bundle.endswith(".joblib") else Booster(name)
    gc.collect()
    gc.freeze()
    sys.argv = [sys.argv[0], *argv]
    ks.ModelServer(enable_grpc=False).start([model])


if __name__ == "__main__":
    if sys.argv[1] == "mlflow-save":
        mlflow_save(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "kserve":
        kserve(sys.argv[2], sys.argv[3:])
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]!r}")
