"""Pydantic models of the HTTP edge; the core's dataclasses are converted here and only here."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tuner.projects import split
from tuner.storage import StudySummary
from tuner.trial import Trial

Finite = Annotated[float, Field(allow_inf_nan=False)]


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable error code, e.g. invalid_spec, not_found")
    message: str
    field: str | None = Field(None, description="the request field at fault, when there is one")


class ErrorResponse(BaseModel):
    error: ErrorBody


class StudyOut(BaseModel):
    name: str
    project: str
    state: str = Field(description="created, running, stopped or complete")
    stop_reason: str | None = Field(
        None,
        description="the stop condition that ended the study before its plan (target, "
        "time_budget, max_failed or patience)",
    )
    round: int = Field(description="the round the study is in, from 1 (== rounds once done)")
    rounds: int
    done: int = Field(description="trials in a final state (complete, failed, pruned)")
    planned: int
    running: int
    best_value: float | None
    direction: str
    created_at: datetime | None = None
    updated_at: datetime | None = Field(None, description="when the plan last moved")
    spec: dict[str, Any] | None = Field(None, description="the study as submitted (on GET)")
    hypervolume: float | None = Field(
        None, description="several metrics: the hypervolume of the Pareto front (on GET)"
    )
    metrics: list[str] | None = Field(
        None,
        description="several metrics: their names (best_value and direction are then the first "
        "one's; the study's GET gives the hypervolume)",
    )

    @classmethod
    def of(
        cls,
        summary: StudySummary,
        spec: dict[str, Any] | None = None,
        hypervolume: float | None = None,
    ) -> StudyOut:
        project, name = split(summary.name)
        return cls(
            name=name,
            project=project,
            state=summary.state.value,
            stop_reason=summary.stop_reason,
            round=min(summary.round + 1, summary.rounds),
            rounds=summary.rounds,
            done=summary.done,
            planned=summary.planned,
            running=summary.running,
            best_value=summary.best_value,
            direction=summary.direction,
            created_at=summary.created_at,
            updated_at=summary.updated_at,
            spec=spec,
            hypervolume=hypervolume,
            metrics=[name for name, _ in summary.objectives] or None,
        )


class TrialOut(BaseModel):
    number: int
    round: int = Field(description="the round of the plan that made the trial, from 1")
    state: str
    value: float | None
    values: dict[str, float]
    params: dict[str, Any]
    attempt: int = Field(description="the current (or last) attempt; 0 before the first claim")
    attempts: int = Field(description="same as attempt: the number of claims so far")
    intermediate: list[list[float]] = Field(description="[step, value] pairs, by step")
    worker: str | None
    error: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    lease_expires_at: datetime | None
    meta: dict[str, Any]
    front: int | None = Field(
        None,
        description="on the leaderboard: the trial's Pareto front (0 is the first; one metric: "
        "0), null when infeasible (a constraint > 0)",
    )

    @classmethod
    def of(cls, t: Trial, front: int | None = None) -> TrialOut:
        return cls(
            number=t.number,
            round=t.round + 1,
            state=t.state.value,
            value=t.value,
            values=t.values,
            params=t.params,
            attempt=t.attempt,
            attempts=t.attempt,
            intermediate=[[step, value] for step, value in t.intermediate],
            worker=t.worker,
            error=t.error,
            created_at=t.created_at,
            started_at=t.started_at,
            finished_at=t.finished_at,
            lease_expires_at=t.lease_expires_at,
            meta=t.meta,
            front=front,
        )


class TrialPage(BaseModel):
    items: list[TrialOut]
    offset: int
    limit: int
    total: int


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    worker: str = Field(
        "anonymous", min_length=1, max_length=200, description="who runs the trial, e.g. host:pid"
    )


class ClaimOut(BaseModel):
    trial: TrialOut | None = Field(description="the claimed trial; null when none is ready")
    lease_seconds: float = Field(description="heartbeat at least this often to keep the trial")
    complete: bool = Field(description="true when the plan is done: no trial will come again")
    stopped: bool = Field(
        False,
        description="true while the study is stopped: no trial is "
        "handed out until it runs or resumes again",
    )
    retry_after: float = Field(description="seconds to wait before claiming again if no trial")


class AttemptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attempt: int = Field(ge=1, le=1_000_000, description="the attempt number given by the claim")


class ReportIn(AttemptIn):
    step: int = Field(ge=0, le=2**31 - 1)
    value: Finite


class CompleteIn(AttemptIn):
    value: float | dict[str, float | list[float]] = Field(
        description="the objective's value, or a dict of metrics holding the study's metric "
        "(and every metric of a multi-objective study); 'constraints': [c1, c2] makes the trial "
        "feasible when each is <= 0"
    )

    @field_validator("value", mode="before")
    @classmethod
    def finite(cls, value: Any) -> Any:
        numbers = list(value.values()) if isinstance(value, dict) else [value]
        if isinstance(value, dict) and isinstance(value.get("constraints"), list):
            numbers = [v for k, v in value.items() if k != "constraints"]
            numbers += value["constraints"][:1000]
            if len(value["constraints"]) > 1000:
                raise ValueError("at most 1000 constraints")
        for v in numbers:
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError("must be a finite number, or a dict of finite numbers")
        if isinstance(value, dict) and (len(value) > 1000 or any(len(k) > 200 for k in value)):
            raise ValueError("at most 1000 metrics with names of at most 200 characters")
        return value


class CompleteAndClaimIn(CompleteIn):
    worker: str = Field(
        "anonymous",
        min_length=1,
        max_length=200,
        description="who runs the next trial, e.g. host:pid",
    )


class FailIn(AttemptIn):
    error: str = Field(max_length=20_000, description="why the attempt failed")


class ReportOut(BaseModel):
    prune: bool = Field(
        description="whether the study's pruner asks this attempt to stop now (it stays asked); "
        "the objective then returns what it has, or ends it with POST .../prune"
    )


class LeaseOut(BaseModel):
    lease_expires_at: datetime | None


class RunOut(BaseModel):
    study: str
    running: bool = Field(description="whether a server (one of the replicas) runs the study")
    error: str | None = Field(None, description="why the last server-side run ended, if it failed")
