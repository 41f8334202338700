"""The study document (a study file, as JSON) described as a JSON schema, for ``/docs``.

The schema documents; ``StudySpec.from_dict`` decides. A submitted study is parsed by the same
code as a YAML file, so its errors name the field the same way (``plan[1].narrow``) whether it
came from the CLI or over HTTP. A test keeps the two in step: the fields here are the fields the
parser knows, and the examples valid for one are valid for the other.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Choice = str | int | float | bool | None
When = Annotated[
    dict[str, Choice | list[Choice]],
    Field(
        description="active only while each named parent parameter takes one of these "
        'values, e.g. {"booster": "dart"}'
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NumericParameter(_Strict):
    """A float or an integer in ``[low, high]``."""

    type: Literal["float", "int"]
    low: float
    high: float
    log: bool = Field(False, description="search on a log scale (low > 0)")
    step: float | None = Field(None, gt=0, description="only low + k * step")
    when: When | None = None


class CategoricalParameter(_Strict):
    """One of a list of values (a bare list is short for this)."""

    type: Literal["categorical"]
    choices: list[Choice] = Field(min_length=1)
    when: When | None = None


Parameter = NumericParameter | CategoricalParameter | Annotated[list[Choice], Field(min_length=1)]


class FunctionObjective(_Strict):
    function: str = Field(
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
        description="a Python callable, 'package.module:function'",
    )


class CommandObjective(_Strict):
    command: str = Field(
        min_length=1,
        description="a command line with {param} placeholders; it prints its value (or JSON) last",
    )


class TrainerObjective(_Strict):
    trainer: str = Field(
        min_length=1, description="a built-in trainer: xgboost, sklearn, spark-ml, xgboost-spark"
    )
    data: str = Field(min_length=1, description="a CSV (with a header), Parquet or LibSVM file")
    label: str | None = Field(None, min_length=1)
    metric: str | None = Field(None, min_length=1)
    cv: int | None = Field(None, ge=2)
    estimator: str | None = Field(None, min_length=1)
    save_model: bool | None = None
    preprocess: list[Literal["scale", "impute"]] | None = Field(
        None,
        description=(
            "sklearn trainer: scale numeric columns, impute missing values (text columns are "
            "always one-hot encoded)"
        ),
    )


Objective = Annotated[
    str | FunctionObjective | CommandObjective | TrainerObjective,
    Field(
        description="what a trial evaluates: exactly one of function, command or trainer "
        "(a bare string is a function)"
    ),
]


class Resource(_Strict):
    """What each trial of a round may spend (boosting rounds, epochs)."""

    min: int = Field(1, ge=1, description="the least a pruner lets a trial spend (first rung)")
    max: int = Field(ge=1, description="the most a trial may spend: the objective's trial.resource")


class Round(_Strict):
    """One step of the plan."""

    algorithm: str = Field(
        min_length=1, description="random, grid, bayesian, genetic, or an installed plugin"
    )
    trials: int = Field(ge=1)
    parallelism: int | None = Field(None, ge=1, description="trials in flight at once")
    narrow: float | None = Field(
        None,
        gt=0,
        le=1,
        description=(
            "search only this fraction of each numeric range, around the best trial so far"
        ),
    )
    options: dict[str, Any] | None = Field(None, description="the algorithm's own options")
    resource: Resource | None = Field(
        None,
        description="what each trial may spend, read as trial.resource ($TUNER_RESOURCE for a "
        "command); asha and hyperband take their rungs from it",
    )


class Executor(BaseModel):
    """Where the server runs trials (``POST .../run``); other keys are the executor's options
    (``workers``, ...). The default is ``local``, ``command`` for a command objective."""

    model_config = ConfigDict(extra="allow")
    type: str = Field("local", description="local, command, ray, spark, or a plugin")


class Metric(_Strict):
    """One objective of a study with several metrics."""

    name: str = Field(min_length=1, description="a key of the dict the objective returns")
    direction: Literal["minimize", "maximize"] = "minimize"
    reference: float | None = Field(None, description="the hypervolume's reference value")


class Pruner(BaseModel):
    """Early stopping: a pruner's name and its own options (e.g. reduction_factor)."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(
        "none", min_length=1, description="median, percentile, asha, hyperband, none or a plugin"
    )


class StopConditions(_Strict):
    """The first condition met ends the study (waiting trials cancelled)."""

    target: float | None = Field(None, description="stop once the best value reaches this")
    time_budget: str | float | None = Field(None, description="seconds, or e.g. '90m', '2h'")
    max_failed: int | None = Field(None, ge=1, description="trials failed for good")
    patience: int | None = Field(None, ge=1, description="finished trials without improvement")


class Promote(_Strict):
    """At the end of the study, register its best trial's model as a new version."""

    model: str = Field(min_length=1, description="the registered model's name")
    alias: str | None = Field(None, description="the alias to move to it, e.g. production")
    when: Literal["better", "always"] = Field(
        "better", description="move the alias only when better than its holder, or always"
    )
    retrain: bool = Field(False, description="refit the best params on all the data first")


class StudyDocument(_Strict):
    """A study: the same document as a study file (YAML), as JSON."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    objective: Objective | None = Field(
        None,
        description=(
            "what a trial evaluates; leave it out for a study whose trials only remote workers "
            "run (tuner worker, the client's optimize())"
        ),
    )
    space: dict[str, Parameter] = Field(
        min_length=1, description=("parameter name (an identifier) -> its definition")
    )
    plan: list[Round] | None = Field(
        None,
        min_length=1,
        description=("the rounds, in order; or give 'trials' instead for the default plan"),
    )
    trials: int | None = Field(
        None,
        ge=1,
        description=(
            "a budget for the default plan (random warm-up, bayesian, bayesian narrowed); with a "
            "plan too, the rounds must add up to it"
        ),
    )
    direction: Literal["minimize", "maximize"] | None = Field(
        None,
        description=("minimize (the default) or maximize; a built-in trainer's metric sets it"),
    )
    metric: str | None = Field(
        None,
        min_length=1,
        description=("the key to optimise when the objective returns a dict of metrics"),
    )
    executor: str | Executor | None = None
    retries: int = Field(0, ge=0, description="failed attempts a trial may retry")
    trial_timeout: float | None = Field(None, gt=0, description="seconds; then the attempt fails")
    seed: int | None = None
    description: str = ""
    metrics: list[Metric] | None = Field(
        None, min_length=1, description="several objectives, instead of metric and direction"
    )
    pruner: str | Pruner | None = None
    stop: StopConditions | None = None
    promote: str | Promote | None = None


def study_schema() -> dict[str, Any]:
    """The JSON schema of a study document, self-contained (no ``$ref``), for an OpenAPI body."""
    schema = StudyDocument.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return {**inline(defs[ref.removeprefix("#/$defs/")]), **inline(rest)}
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(x) for x in node]
        return node

    return inline(schema)  # type: ignore[no-any-return]
