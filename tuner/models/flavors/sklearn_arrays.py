"""The array fast path of the ``sklearn`` flavor: one-row latency without a DataFrame.

A Pipeline fitted on a DataFrame knows its columns by name, so scikit-learn's own fast call
(``predict_proba`` on a numpy row) warns, and a ``ColumnTransformer`` that selects columns by name
refuses arrays outright; a 1-row DataFrame works but its construction and scikit-learn's checks
of it cost several times the arithmetic. The fast path is a copy of the fitted estimator that
reads arrays instead: every step's ``feature_names_in_`` removed and every ``ColumnTransformer``'s
column names replaced by the positions it computed when fitted (``_transformer_to_input_indices``).
The rows are checked against the signature first (``Signature.array``: finite floats;
``Signature.values``: each value as ``Signature.frame`` would check it, categories as objects), and
the columns reach each step in the signature's order, so the arithmetic is the same.

The copy is kept only when it predicts exactly (``numpy.array_equal``) what the estimator predicts
from the signature's DataFrame on check rows: the manifest's example rows and, for each category
of each category feature, the first row with that category. Anything else (a step that needs
names, a private attribute that changed in another scikit-learn version, a difference of one
bit) leaves the model on the DataFrame path: slower, never different.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuner.models.signature import Signature

_MAX_CHECK_ROWS = 200


def array_estimator(model: Any) -> Any | None:
    """A copy of the fitted ``model`` that reads arrays of its input columns in order, or None
    when one of its parts cannot (a step this module does not know how to rewrite)."""
    clone = copy.deepcopy(model)
    try:
        _strip(clone)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    return clone


def _strip(estimator: Any) -> None:
    from sklearn.base import BaseEstimator

    if not isinstance(estimator, BaseEstimator):
        return  # "drop", "passthrough"
    for _, step in getattr(estimator, "steps", ()):
        _strip(step)
    if hasattr(estimator, "transformers_"):
        positions = estimator._transformer_to_input_indices
        estimator.transformers_ = [
            (name, part, [int(i) for i in positions[name]])
            for name, part, _ in estimator.transformers_
        ]
        for _, part, _ in estimator.transformers_:
            _strip(part)
    elif hasattr(estimator, "transformer_list"):  # a FeatureUnion: every part reads all columns
        for _, part in estimator.transformer_list:
            _strip(part)
    if "feature_names_in_" in vars(estimator):
        del estimator.feature_names_in_


def check_rows(signature: Signature, examples: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows the fast path is checked on: the examples, then each category of each category
    feature in a copy of the first example (so that every encoder column is exercised)."""
    rows = [dict(r) for r in examples]
    if rows:
        for feature in signature.inputs:
            for category in feature.categories:
                rows.append({**rows[0], feature.name: category})
    return rows[:_MAX_CHECK_ROWS]


def same_predictions(slow: Any, fast: Any, signature: Signature, rows: list[Any]) -> bool:
    """Whether ``fast`` (arrays) predicts exactly what ``slow`` (DataFrames) does on ``rows``."""
    import numpy as np

    if not rows:
        return False
    try:
        rows_array = signature.array(rows) if signature.numeric else signature.values(rows)
        if rows_array is None:
            return False
        expected = np.asarray(slow(signature.frame(rows)))
        got = np.asarray(fast(rows_array))
    except Exception:  # noqa: BLE001 - any failure means: no fast path, the slow one answers
        return False
    return got.shape == expected.shape and bool(np.array_equal(got, expected))
