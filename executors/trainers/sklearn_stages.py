"""Cross-validation that grows a scikit-learn estimator stage by stage and reports the mean fold
score after each stage, so that the ``sklearn`` trainer's trials prune with no user code.

Two kinds of estimator grow: ensembles that keep their fitted members when refitted with more
(``warm_start`` with ``n_estimators``: GradientBoosting, RandomForest, ExtraTrees, Bagging; with
``max_iter``: HistGradientBoosting), and estimators trained an epoch at a time by
``partial_fit`` (SGD, Perceptron, PassiveAggressive, MLP, naive Bayes), ``max_iter`` epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuner.executor import TrialContext

# beyond this many stages, reports are spread evenly over them: each report scores every fold
# with every member so far, so reports cost predictions growing with their number squared
MAX_REPORTS = 20
WARM_COUNTERS = ("n_estimators", "max_iter")  # an ensemble's members, cumulative under warm_start


@dataclass(frozen=True)
class Growth:
    """How an estimator grows: by refitting with more members (``warm``) or by ``partial_fit``
    epochs; ``total`` stages, counted by its parameter ``counter``."""

    warm: bool
    counter: str
    total: int


def growth_of(estimator: Any, params: dict[str, Any], resource: int | None) -> Growth | None:
    """How ``estimator`` grows, or None when it does not (it is then fitted once per fold). A
    round's ``resource`` sets the number of stages unless the space sets it."""
    names = estimator.get_params()
    partial = hasattr(estimator, "partial_fit") and "max_iter" in names
    ensemble = type(estimator).__module__.startswith("sklearn.ensemble")
    if ensemble and "warm_start" in names and not partial:
        for counter in WARM_COUNTERS:
            if isinstance(names.get(counter), int):
                total = params.get(counter, resource or names[counter])
                return Growth(True, counter, int(total))
    if partial:
        return Growth(False, "max_iter", int(params.get("max_iter", resource or names["max_iter"])))
    return None


def checkpoints(total: int) -> list[int]:
    """The stage counts after which the folds' mean score is reported (every stage, or at most
    ``MAX_REPORTS`` spread evenly, the last always)."""
    if total <= MAX_REPORTS:
        return list(range(1, total + 1))
    return sorted({max(1, round(total * k / MAX_REPORTS)) for k in range(1, MAX_REPORTS + 1)})


def staged_cross_validate(
    pipeline: Any, growth: Growth, X: Any, y: Any, cv: int, scoring: str, trial: TrialContext
) -> list[float]:
    """The fold scores at the last stage reached: every fold grows one checkpoint at a time,
    their mean is reported (step = stages so far) and the trial stops when told to."""
    import numpy as np
    from sklearn.base import clone, is_classifier
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import check_cv

    scorer = get_scorer(scoring)
    model = pipeline.named_steps["model"]
    splitter = check_cv(cv, y, classifier=is_classifier(model))
    classes = np.unique(y) if is_classifier(model) else None
    folds = []
    for train, test in splitter.split(X, y):
        pre = clone(pipeline.named_steps["preprocess"]).fit(X.iloc[train], y[train])
        estimator = clone(model)
        if growth.warm:
            estimator.set_params(warm_start=True)
        folds.append(
            (pre.transform(X.iloc[train]), y[train], pre.transform(X.iloc[test]), y[test],
             estimator)
        )  # fmt: skip
    scores: list[float] = []
    done = 0
    for stage in checkpoints(growth.total):
        scores = []
        for x_train, y_train, x_test, y_test, estimator in folds:
            if growth.warm:
                estimator.set_params(**{growth.counter: stage}).fit(x_train, y_train)
            else:
                for _ in range(stage - done):
                    if classes is not None:
                        estimator.partial_fit(x_train, y_train, classes=classes)
                    else:
                        estimator.partial_fit(x_train, y_train)
            scores.append(float(scorer(estimator, x_test, y_test)))
        done = stage
        trial.report(stage, float(np.mean(scores)))
        if trial.should_prune():
            break
    return scores
