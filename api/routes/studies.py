"""Studies: submit, read, list, delete; run on the server's executor; leaderboard and trials."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Path, Query, Request, Response

from tuner.api.auth import Reader, Writer
from tuner.api.errors import COMMON, described
from tuner.api.schemas import RunOut, StudyOut, TrialOut, TrialPage
from tuner.api.study_document import study_schema
from tuner.config import Settings
from tuner.errors import Conflict, SpecError
from tuner.projects import qualified
from tuner.runs import create_or_resume
from tuner.storage import Storage
from tuner.storage.tokens import Token
from tuner.study import StudySpec, StudyState
from tuner.trial import TrialState

router = APIRouter(prefix="/studies", tags=["studies"], responses=COMMON)
NOT_FOUND = described({404: "no such study in the token's project"})

SPEC_EXAMPLE = {
    "name": "quadratic",
    "objective": {"function": "train:objective"},
    "direction": "minimize",
    "space": {"x": {"type": "float", "low": -5, "high": 5}},
    "trials": 20,
}


def storage_of(request: Request) -> Storage:
    return request.app.state.storage  # type: ignore[no-any-return]


@router.post(
    "",
    status_code=201,
    response_model=StudyOut,
    responses={
        200: {
            "model": StudyOut,
            "description": "exists_ok, and the project has the study with "
            "the same spec: it is returned",
        },
        **described(
            {409: "the project has a study of that name (with exists_ok: with another spec)"}
        ),
    },
    summary="Submit a study (the same document as a study file, as JSON)",
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": study_schema()}}}},
)
def create_study(
    request: Request,
    response: Response,
    spec: dict[str, Any] = Body(..., examples=[SPEC_EXAMPLE]),
    exists_ok: bool = Query(
        False,
        description=(
            "return the existing study of that name when its spec matches (a longer plan is taken "
            "up, as by 'tuner run'), instead of a 409"
        ),
    ),
    token: Token = Writer,
) -> StudyOut:
    settings: Settings = request.app.state.settings
    parsed = StudySpec.from_dict(spec, limits=settings.limits)
    storage = storage_of(request)
    if exists_ok:
        try:
            record, created = create_or_resume(storage, parsed, project=token.project)
        except SpecError as exc:
            raise Conflict(exc.reason, field=exc.field) from None
        if not created:
            response.status_code = 200
    else:
        record = storage.create_study(parsed, project=token.project)
    return StudyOut.of(storage.study_summary(record.name), spec=record.spec.to_dict())


@router.get("", response_model=list[StudyOut], summary="The token's project's studies")
def list_studies(request: Request, token: Token = Reader) -> list[StudyOut]:
    return [StudyOut.of(s) for s in storage_of(request).list_studies(project=token.project)]


@router.get("/{name}", response_model=StudyOut, responses=NOT_FOUND, summary="One study")
def get_study(name: str, request: Request, token: Token = Reader) -> StudyOut:
    storage = storage_of(request)
    key = qualified(token.project, name)
    return StudyOut.of(
        storage.study_summary(key),
        spec=storage.get_study(key).spec.to_dict(),
        hypervolume=storage.hypervolume(key),
    )


@router.delete("/{name}", status_code=204, responses=NOT_FOUND, summary="Delete a study")
def delete_study(name: str, request: Request, token: Token = Writer) -> Response:
    key = qualified(token.project, name)
    request.app.state.runs.stop(key)
    storage_of(request).delete_study(key)
    return Response(status_code=204)


@router.post(
    "/{name}/run",
    status_code=202,
    response_model=RunOut,
    responses=described(
        {
            403: "server-side runs are off, or the operator does not allow this objective",
            404: "no such study in the token's project",
            422: "the study cannot run here: no objective, or one the server cannot find",
        }
    ),
    summary="Run (or resume) the study's plan on the server's own executor",
)
def run_study(name: str, request: Request, token: Token = Writer) -> RunOut:
    key = qualified(token.project, name)
    running, error = request.app.state.runs.start(key)
    return RunOut(study=name, running=running, error=error)


@router.post(
    "/{name}/stop",
    status_code=202,
    response_model=RunOut,
    responses=NOT_FOUND,
    summary="Stop the study: the server-side run and every runner stop (their running trials "
    "wait again) and workers get no more trials until it runs or resumes",
)
def stop_study(name: str, request: Request, token: Token = Writer) -> RunOut:
    key = qualified(token.project, name)
    storage_of(request).set_state(key, StudyState.STOPPED)
    request.app.state.runs.stop(key)
    running, error = request.app.state.runs.status(key)
    return RunOut(study=name, running=running, error=error)


@router.post(
    "/{name}/resume",
    response_model=StudyOut,
    responses=NOT_FOUND,
    summary="Let a stopped study's trials be claimed again (remote workers)",
)
def resume_study(name: str, request: Request, token: Token = Writer) -> StudyOut:
    key = qualified(token.project, name)
    storage = storage_of(request)
    storage.set_state(key, StudyState.RUNNING)
    return StudyOut.of(storage.study_summary(key))


@router.get(
    "/{name}/run",
    response_model=RunOut,
    responses=NOT_FOUND,
    summary="Whether the server is running the study",
)
def run_status(name: str, request: Request, token: Token = Reader) -> RunOut:
    running, error = request.app.state.runs.status(qualified(token.project, name))
    return RunOut(study=name, running=running, error=error)


@router.get(
    "/{name}/leaderboard",
    response_model=list[TrialOut],
    responses=NOT_FOUND,
    summary="Complete trials, best first (several metrics: the Pareto front first, by crowding)",
)
def leaderboard(
    name: str,
    request: Request,
    top: int | None = Query(None, ge=1, le=10_000),
    token: Token = Reader,
) -> list[TrialOut]:
    ranked = storage_of(request).ranked(qualified(token.project, name), top)
    return [TrialOut.of(r.trial, r.front) for r in ranked]


@router.get(
    "/{name}/trials",
    response_model=TrialPage,
    responses=NOT_FOUND,
    summary="Trials by number, paged, optionally of one state",
)
def list_trials(
    name: str,
    request: Request,
    state: TrialState | None = None,
    offset: int = Query(0, ge=0, le=10**9),
    limit: int = Query(100, ge=1, le=1000),
    token: Token = Reader,
) -> TrialPage:
    storage = storage_of(request)
    key = qualified(token.project, name)
    states = [state] if state else None
    items = storage.trials(key, states=states, offset=offset, limit=limit)
    total = storage.count_trials(key, states=states)
    return TrialPage(items=[TrialOut.of(t) for t in items], offset=offset, limit=limit, total=total)


@router.get(
    "/{name}/trials/{number:int}",
    response_model=TrialOut,
    responses=described({404: "no such study or trial"}),
    summary="One trial",
)
def get_trial(
    name: str, request: Request, number: int = Path(ge=0, le=2**31 - 1), token: Token = Reader
) -> TrialOut:
    return TrialOut.of(storage_of(request).trial(qualified(token.project, name), number))
