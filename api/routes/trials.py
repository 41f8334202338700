"""The worker protocol: claim a trial, heartbeat its lease, report, complete or fail it."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Path, Request

from api.auth import Writer
from api.errors import COMMON, described
from api.schemas import (
    AttemptIn,
    ClaimIn,
    ClaimOut,
    CompleteAndClaimIn,
    CompleteIn,
    FailIn,
    LeaseOut,
    ReportIn,
    TrialOut,
)
from tuner.errors import ObjectiveError
from tuner.executor import TrialOutcome
from tuner.objective import interpret
from tuner.projects import qualified
from tuner.scheduler import Scheduler
from tuner.storage import Storage
from tuner.storage.tokens import Token
from tuner.study import StudySpec
from tuner.trial import TrialState

router = APIRouter(prefix="/studies/{name}/trials", tags=["trials"], responses=COMMON)
STALE = described({
    404: "no such study or trial",
    409: "this attempt is no longer the running one (its lease expired, or it already ended "
         "with another result)",
})
Number = Path(ge=0, le=2**31 - 1)
_RETRY_AFTER = 0.5


def _storage(request: Request) -> Storage:
    return request.app.state.storage  # type: ignore[no-any-return]


@router.post("/claim", response_model=ClaimOut,
             responses=described({404: "no such study in the token's project"}),
             summary="Claim the next trial (atomic: two workers never get the same one)")
def claim(name: str, body: ClaimIn, request: Request, token: Token = Writer) -> ClaimOut:
    scheduler: Scheduler = request.app.state.scheduler
    lease = request.app.state.settings.lease_seconds
    key = qualified(token.project, name)
    trial, progress = scheduler.claim(key, body.worker, lease)
    complete = trial is None and progress is not None and progress.complete
    return ClaimOut(
        trial=TrialOut.of(trial) if trial else None,
        lease_seconds=lease,
        complete=complete,
        retry_after=0.0 if trial or complete else _RETRY_AFTER,
    )


@router.post("/{number:int}/heartbeat", response_model=LeaseOut, responses=STALE,
             summary="Keep a claimed trial's lease alive")
def heartbeat(name: str, body: AttemptIn, request: Request, number: int = Number,
              token: Token = Writer) -> LeaseOut:
    storage = _storage(request)
    key = qualified(token.project, name)
    lease = request.app.state.settings.lease_seconds
    storage.heartbeat(key, number, body.attempt, lease)
    return LeaseOut(lease_expires_at=storage.trial(key, number).lease_expires_at)


@router.post("/{number:int}/report", status_code=204, responses=STALE,
             summary="Record an intermediate value of a running attempt")
def report(name: str, body: ReportIn, request: Request, number: int = Number,
           token: Token = Writer) -> None:
    _storage(request).report(qualified(token.project, name), number, body.attempt, body.step,
                             body.value)


@router.post("/{number:int}/complete", response_model=TrialOut, responses=STALE,
             summary="Complete an attempt with its value (idempotent for the same value)")
def complete(name: str, body: CompleteIn, request: Request, number: int = Number,
             token: Token = Writer) -> TrialOut:
    def outcome(spec: StudySpec) -> TrialOutcome:
        try:
            value, values = interpret(body.value, spec.metric)
        except ObjectiveError as exc:
            raise ObjectiveError(str(exc), field="value") from None
        return TrialOutcome(TrialState.COMPLETE, value=value, values=values)

    return _finish(request, token, name, number, body.attempt, outcome)


@router.post("/{number:int}/complete-and-claim", response_model=ClaimOut, responses=STALE,
             summary="Complete an attempt and claim the next trial in one round trip")
def complete_and_claim(name: str, body: CompleteAndClaimIn, request: Request,
                       number: int = Number, token: Token = Writer) -> ClaimOut:
    complete(name, CompleteIn(attempt=body.attempt, value=body.value), request, number, token)
    return claim(name, ClaimIn(worker=body.worker), request, token)


@router.post("/{number:int}/fail", response_model=TrialOut, responses=STALE,
             summary="Fail an attempt; it waits again while retries are left")
def fail(name: str, body: FailIn, request: Request, number: int = Number,
         token: Token = Writer) -> TrialOut:
    return _finish(request, token, name, number, body.attempt,
                   lambda spec: TrialOutcome.failure(body.error))


def _finish(request: Request, token: Token, name: str, number: int, attempt: int,
            outcome: Callable[[StudySpec], TrialOutcome]) -> TrialOut:
    """Record how an attempt ended, the outcome built against the study's spec."""
    storage = _storage(request)
    key = qualified(token.project, name)
    spec = storage.get_study(key).spec
    trial = storage.finish(key, number, attempt, outcome(spec), spec.max_attempts)
    return TrialOut.of(trial)
