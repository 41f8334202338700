"""Spark training in stages, so that the ``spark-ml`` and ``xgboost-spark`` trainers report their
hold-out score while they train and their studies prune with no user code.

An ensemble grows by a count of members: Spark ML's boosted trees by ``maxIter``, its random
forests by ``numTrees``, ``xgboost.spark`` by ``n_estimators`` (boosting rounds). It is trained
to checkpoints of that count, powers of three (1, 3, 9, 27...) up to a third of its total, then
its total, and its hold-out score reported after each (step = members so far): the same steps
for every trial whatever its total, so a median pruner compares like with like and ASHA's rungs
(reduction factor 3) fall on them. ``xgboost.spark`` continues from the booster of the
checkpoint before (``xgb_model``), so its stages cost one training; Spark ML cannot add members
to a fitted model, so it fits again from scratch at each checkpoint: a trial that runs to its
total costs at most 1.5 fits (1 + 1/3 + 1/9...), one pruned at 9 members of 81 a sixth of a fit.
So the trainers train in stages only when the study has a pruner (``trial.prunes``): without one
nothing could stop the trial early and the stages would be work for nothing.

Other estimators (logistic regression, whose ``maxIter`` bounds a solver rather than counting
members, a single tree...) are fitted once and report nothing: none of their work could be
stopped early.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tuner.executor import TrialContext

REDUCTION = 3  # checkpoints are the powers of this below the total


@dataclass(frozen=True)
class Growth:
    """How an estimator grows: ``total`` members counted by its parameter ``counter``;
    ``continues``: a fit can start from the model before (``xgb_model``) instead of from
    scratch."""

    counter: str
    total: int
    continues: bool


def growth_of(estimator: Any, params: Mapping[str, Any], resource: int | None) -> Growth | None:
    """How ``estimator`` (a Spark ML or ``xgboost.spark`` estimator) grows, or None when it does
    not. A round's ``resource`` sets the number of members unless the space sets it."""
    from pyspark.ml.tree import _TreeEnsembleParams  # what Spark's GBTs and forests share

    if estimator.hasParam("xgb_model") and estimator.hasParam("n_estimators"):
        counter, continues = "n_estimators", True
    elif isinstance(estimator, _TreeEnsembleParams):
        counter, continues = ("numTrees" if estimator.hasParam("numTrees") else "maxIter"), False
    else:
        return None
    total = params.get(counter, resource or estimator.getOrDefault(counter))
    return Growth(counter, int(total), continues)


def checkpoints(total: int) -> list[int]:
    """The member counts after which the hold-out score is reported: the powers of
    ``REDUCTION`` up to a third of ``total``, then ``total`` (so refits from scratch cost at
    most half a fit more: 1/3 + 1/9 + ... of it)."""
    marks = []
    mark = 1
    while mark * REDUCTION <= total:
        marks.append(mark)
        mark *= REDUCTION
    return [*marks, total]


def staged_fit(
    estimator_for: Callable[[Mapping[str, Any]], Any],
    growth: Growth,
    train: Any,
    score: Callable[[Any], float],
    trial: TrialContext,
) -> tuple[Any, float]:
    """The model at the last checkpoint reached and its ``score``: the estimator
    (``estimator_for(changes)``: the trial's estimator with ``changes`` to its params) is trained
    on ``train`` one checkpoint at a time, each score reported (step = members so far), and the
    training stops when the trial is told to."""
    model: Any = None
    value = float("nan")
    done = 0
    for stage in checkpoints(growth.total):
        if growth.continues and model is not None:
            changes = {growth.counter: stage - done, "xgb_model": model.get_booster()}
        else:
            changes = {growth.counter: stage}
        model = estimator_for(changes).fit(train)
        value = score(model)
        done = stage
        trial.report(stage, value)
        if trial.should_prune():
            break
    return model, value
