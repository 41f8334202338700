"""Studies: submit, read, list, delete; run on the server's executor; leaderboard and trials."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Path, Query, Request, Response

from api.auth import Reader, Writer
from api.errors import COMMON, described
from api.schemas import RunOut, StudyOut, TrialOut, TrialPage
from api.study_document import study_schema
from tuner.errors import NotFound
from tuner.projects import qualified
from tuner.storage import Storage
from tuner.storage.tokens import Token
from tuner.study import StudySpec
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


def summary(storage: Storage, key: str) -> StudyOut:
    """The listing row of one study (a study of another project is simply not found)."""
    storage.get_study(key)
    for s in storage.list_studies(project=_project_of(key)):
        if s.name == key:
            return StudyOut.of(s)
    raise NotFound(f"no study named {key!r}")  # pragma: no cover - deleted meanwhile


def _project_of(key: str) -> str:
    from tuner.projects import split

    return split(key)[0]


@router.post(
    "", status_code=201, response_model=StudyOut,
    responses=described({409: "the project has a study of that name"}),
    summary="Submit a study (the same document as a study file, as JSON)",
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": study_schema()}}}},
)
def create_study(
    request: Request,
    spec: dict[str, Any] = Body(..., examples=[SPEC_EXAMPLE]),
    token: Token = Writer,
) -> StudyOut:
    parsed = StudySpec.from_dict(spec)
    storage = storage_of(request)
    record = storage.create_study(parsed, project=token.project)
    return summary(storage, record.name).model_copy(update={"spec": parsed.to_dict()})


@router.get("", response_model=list[StudyOut], summary="The token's project's studies")
def list_studies(request: Request, token: Token = Reader) -> list[StudyOut]:
    return [StudyOut.of(s) for s in storage_of(request).list_studies(project=token.project)]


@router.get("/{name}", response_model=StudyOut, responses=NOT_FOUND, summary="One study")
def get_study(name: str, request: Request, token: Token = Reader) -> StudyOut:
    storage = storage_of(request)
    key = qualified(token.project, name)
    spec = storage.get_study(key).spec.to_dict()
    return summary(storage, key).model_copy(update={"spec": spec})


@router.delete("/{name}", status_code=204, responses=NOT_FOUND, summary="Delete a study")
def delete_study(name: str, request: Request, token: Token = Writer) -> Response:
    key = qualified(token.project, name)
    request.app.state.runs.stop(key)
    storage_of(request).delete_study(key)
    return Response(status_code=204)


@router.post(
    "/{name}/run", status_code=202, response_model=RunOut, responses=NOT_FOUND,
    summary="Run (or resume) the study's plan on the server's own executor",
)
def run_study(name: str, request: Request, token: Token = Writer) -> RunOut:
    key = qualified(token.project, name)
    running, error = request.app.state.runs.start(key)
    return RunOut(study=name, running=running, error=error)


@router.post(
    "/{name}/stop", status_code=202, response_model=RunOut, responses=NOT_FOUND,
    summary="Stop the server-side run; its running trials wait again",
)
def stop_study(name: str, request: Request, token: Token = Writer) -> RunOut:
    key = qualified(token.project, name)
    storage_of(request).get_study(key)
    request.app.state.runs.stop(key)
    running, error = request.app.state.runs.status(key)
    return RunOut(study=name, running=running, error=error)


@router.get("/{name}/run", response_model=RunOut, responses=NOT_FOUND,
            summary="Whether the server is running the study")
def run_status(name: str, request: Request, token: Token = Reader) -> RunOut:
    running, error = request.app.state.runs.status(qualified(token.project, name))
    return RunOut(study=name, running=running, error=error)


@router.get("/{name}/leaderboard", response_model=list[TrialOut], responses=NOT_FOUND,
            summary="Complete trials, best first")
def leaderboard(
    name: str, request: Request, top: int | None = Query(None, ge=1, le=10_000),
    token: Token = Reader,
) -> list[TrialOut]:
    trials = storage_of(request).leaderboard(qualified(token.project, name), top)
    return [TrialOut.of(t) for t in trials]


@router.get("/{name}/trials", response_model=TrialPage, responses=NOT_FOUND,
            summary="Trials by number, paged, optionally of one state")
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
    return TrialPage(items=[TrialOut.of(t) for t in items], offset=offset, limit=limit,
                     total=total)


@router.get("/{name}/trials/{number:int}", response_model=TrialOut,
            responses=described({404: "no such study or trial"}), summary="One trial")
def get_trial(name: str, request: Request, number: int = Path(ge=0, le=2**31 - 1),
              token: Token = Reader) -> TrialOut:
    return TrialOut.of(storage_of(request).trial(qualified(token.project, name), number))
