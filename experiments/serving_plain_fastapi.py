"""The contender a user would write: a FastAPI endpoint, a pydantic body, ``model.predict`` on a
pandas DataFrame. Loads the same bundle the prediction server serves (the xgboost flavor's
booster file, or the sklearn flavor's estimator), so both score the same model.

    python -m experiments.serving_plain_fastapi BUNDLE_FOLDER --port 8600
"""

from __future__ import annotations

import argparse
import gc
from typing import Any

from pydantic import BaseModel


class Instances(BaseModel):
    """The body: rows as objects of numbers (a user's first endpoint)."""

    instances: list[dict[str, float]]


def build(bundle: str) -> Any:
    import pandas as pd
    from fastapi import FastAPI

    from tuner.models import Predictor

    predictor = Predictor.load(bundle)
    names = predictor.signature.names
    model: Any = getattr(predictor.model, "model", None)  # the sklearn flavor's estimator

    app = FastAPI()
    if predictor.flavor == "xgboost":
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(f"{bundle}/model/model.ubj")

        def score(frame: Any) -> Any:
            return booster.inplace_predict(frame)

    else:

        def score(frame: Any) -> Any:
            return model.predict_proba(frame)[:, 1]

    @app.post("/predict")
    def predict(body: Instances) -> dict[str, Any]:
        frame = pd.DataFrame(body.instances, columns=names)
        return {"predictions": score(frame).tolist()}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--port", type=int, default=8600)
    args = parser.parse_args()
    import uvicorn

    app = build(args.bundle)
    gc.collect()
    gc.freeze()  # the anchors' measured fix, given to the contender too
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
