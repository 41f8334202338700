"""The worker protocol: claim a trial, heartbeat its lease, report, complete or fail it."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from tuner.api.auth import Writer
from tuner.api.errors import COMMON, described
from tuner.api.schemas import (
    AttemptIn,
    ClaimIn,
    ClaimOut,
    CompleteAndClaimIn,
    CompleteIn,
    FailIn,
    LeaseOut,
    ReportIn,
    ReportOut,
    TrialOut,
)
from tuner.errors import ObjectiveError
from tuner.executor import TrialOutcome
from tuner.objective import interpret, missing_metrics
from tuner.projects import qualified
from tuner.scheduler import Scheduler
from tuner.storage import Storage
from tuner.storage.tokens import Token
from tuner.study import StudySpec
from tuner.trial import Trial, TrialState

router = APIRouter(prefix="/studies/{name}/trials", tags=["trials"], responses=COMMON)
STALE = described(
    {
        404: "no such study or trial",
        409: "this attempt is no longer the running one (its lease expired, or it already ended "
        "with another result)",
    }
)
Number = Path(ge=0, le=2**31 - 1)
_RETRY_AFTER = 0.5
P = ParamSpec("P")
T = TypeVar("T")


def _storage(request: Request) -> Storage:
    return request.app.state.storage  # type: ignore[no-any-return]


async def _call(request: Request, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking call on the storage. On SQLite (``Storage.serial``) it runs inline: the
    database takes one transaction at a time, so a hop to a worker thread would cost more than it
    could overlap. On PostgreSQL transactions overlap, so it runs in the thread pool.

    The endpoints of the worker protocol are async for this: they are the hot path (a study of
    10,000 trials is 10,000 of each), every other route is a plain ``def``."""
    if _storage(request).serial:
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)


@router.post(
    "/claim",
    response_model=ClaimOut,
    responses=described({404: "no such study in the token's project"}),
    summary="Claim the next trial (atomic: two workers never get the same one)",
)
async def claim(name: str, body: ClaimIn, request: Request, token: Token = Writer) -> ClaimOut:
    return await _call(request, _claim, request, qualified(token.project, name), body.worker)


def _claim(request: Request, key: str, worker: str, claimed: Trial | None = None) -> ClaimOut:
    """The answer to a claim: ``claimed`` if the caller already has it, else a trial from the
    scheduler (which refills the queue), or why there is none."""
    lease = request.app.state.settings.lease_seconds
    complete = stopped = False
    if claimed is None:
        scheduler: Scheduler = request.app.state.scheduler
        claimed, progress = scheduler.claim(key, worker, lease)
        complete = claimed is None and progress is not None and progress.complete
        stopped = claimed is None and progress is not None and progress.stopped
    return ClaimOut(
        trial=TrialOut.of(claimed) if claimed else None,
        lease_seconds=lease,
        complete=complete,
        stopped=stopped,
        retry_after=0.0 if claimed or complete else _RETRY_AFTER,
    )


@router.post(
    "/{number:int}/heartbeat",
    response_model=LeaseOut,
    responses=STALE,
    summary="Keep a claimed trial's lease alive",
)
async def heartbeat(
    name: str, body: AttemptIn, request: Request, number: int = Number, token: Token = Writer
) -> LeaseOut:
    lease = request.app.state.settings.lease_seconds
    expires = await _call(
        request,
        _storage(request).heartbeat,
        qualified(token.project, name),
        number,
        body.attempt,
        lease,
    )
    return LeaseOut(lease_expires_at=expires)


@router.post(
    "/{number:int}/report",
    response_model=ReportOut,
    responses=STALE,
    summary="Record an intermediate value of a running attempt; answers whether to stop (pruning)",
)
async def report(
    name: str, body: ReportIn, request: Request, number: int = Number, token: Token = Writer
) -> ReportOut:
    prune = await _call(
        request,
        _storage(request).report,
        qualified(token.project, name),
        number,
        body.attempt,
        body.step,
        body.value,
    )
    return ReportOut(prune=prune)


@router.post(
    "/{number:int}/prune",
    response_model=TrialOut,
    responses=STALE,
    summary="End an attempt as pruned (told to stop, or stopping on its own), with its last report",
)
async def prune(
    name: str, body: AttemptIn, request: Request, number: int = Number, token: Token = Writer
) -> TrialOut:
    trial, _ = await _call(
        request,
        _storage(request).finish_and_claim,
        qualified(token.project, name),
        number,
        body.attempt,
        lambda spec: TrialOutcome(TrialState.PRUNED),
    )
    return TrialOut.of(trial)


@router.post(
    "/{number:int}/complete",
    response_model=TrialOut,
    responses=STALE,
    summary="Complete an attempt with its value (idempotent for the same value)",
)
async def complete(
    name: str, body: CompleteIn, request: Request, number: int = Number, token: Token = Writer
) -> TrialOut:
    trial, _ = await _call(
        request,
        _storage(request).finish_and_claim,
        qualified(token.project, name),
        number,
        body.attempt,
        _value(body.value),
    )
    return TrialOut.of(trial)


@router.post(
    "/{number:int}/complete-and-claim",
    response_model=ClaimOut,
    responses=STALE,
    summary="Complete an attempt and claim the next trial in one round trip",
)
async def complete_and_claim(
    name: str,
    body: CompleteAndClaimIn,
    request: Request,
    number: int = Number,
    token: Token = Writer,
) -> ClaimOut:
    return await _call(
        request, _complete_and_claim, request, qualified(token.project, name), number, body
    )


def _complete_and_claim(
    request: Request, key: str, number: int, body: CompleteAndClaimIn
) -> ClaimOut:
    lease = request.app.state.settings.lease_seconds
    _, claimed = _storage(request).finish_and_claim(
        key, number, body.attempt, _value(body.value), body.worker, lease
    )
    return _claim(request, key, body.worker, claimed)


@router.post(
    "/{number:int}/fail",
    response_model=TrialOut,
    responses=STALE,
    summary="Fail an attempt; it waits again while retries are left",
)
async def fail(
    name: str, body: FailIn, request: Request, number: int = Number, token: Token = Writer
) -> TrialOut:
    trial, _ = await _call(
        request,
        _storage(request).finish_and_claim,
        qualified(token.project, name),
        number,
        body.attempt,
        lambda spec: TrialOutcome.failure(body.error),
    )
    return TrialOut.of(trial)


def _value(value: float | dict[str, float | list[float]]) -> Callable[[StudySpec], TrialOutcome]:
    """The outcome of a completed attempt, its value read with the study's metric."""

    def outcome(spec: StudySpec) -> TrialOutcome:
        try:
            number, values = interpret(value, spec.metric)
            missing = missing_metrics([m.name for m in spec.metrics], values)
            if missing:
                raise ObjectiveError(missing)
        except ObjectiveError as exc:
            raise ObjectiveError(str(exc), field="value") from None
        return TrialOutcome(TrialState.COMPLETE, value=number, values=values)

    return outcome
