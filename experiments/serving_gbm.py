"""The serving benchmark's second model: a scikit-learn pipeline (a scaler, then gradient
boosting) on scikit-learn's breast-cancer data, trained by a study (``objective``) and promoted
by its ``promote:`` block. ``study(path)`` writes the study file."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def data() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    return X, y


def objective(params: dict[str, Any], trial: Any) -> dict[str, float]:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data()
    model = make_pipeline(
        StandardScaler(), GradientBoostingClassifier(n_estimators=100, random_state=0, **params)
    )
    fitted = model.fit(X[:450], y[:450])
    trial.save_model(fitted, example=X)
    return {"auc": float(roc_auc_score(y[450:], fitted.predict_proba(X[450:])[:, 1]))}


def study(path: Path, model: str, trials: int = 3) -> Path:
    """A study file training ``trials`` pipelines and promoting the best as ``model``."""
    path.write_text(
        f"""name: {model}-study
objective: {{function: "experiments.serving_gbm:objective"}}
metric: auc
direction: maximize
space:
  max_depth:     {{type: int, low: 2, high: 4}}
  learning_rate: {{type: float, low: 0.05, high: 0.3, log: true}}
trials: {trials}
executor: {{type: local, workers: 1}}
promote: {{model: {model}, alias: production, when: better}}
"""
    )
    return path
