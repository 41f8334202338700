"""The JSON routes the web page needs beside the clients' ones: who am I, what changed since,
a sorted and filtered page of the leaderboard, the plots' data, a trial's attempts, downloads,
and a study submitted as YAML. Same tokens and projects as every ``/api/v1`` route."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from tuner.api.auth import Reader, Writer
from tuner.api.errors import COMMON, described
from tuner.api.schemas import StudyOut
from tuner.api.web.first_page import leaderboard_page
from tuner.api.web.plots import plot_history, plots, quick_history
from tuner.api.web.snapshots import Snapshots
from tuner.api.web.study_yaml import line_of, parse_yaml
from tuner.api.web.table import Filter
from tuner.config import Settings
from tuner.errors import SpecError
from tuner.projects import qualified, split
from tuner.storage import Storage
from tuner.storage.tokens import Token
from tuner.study import StudySpec

router = APIRouter(tags=["web page"], responses=COMMON)
NOT_FOUND = described({404: "no such study in the token's project"})
DOWNLOAD_PAGE = 1000


def _snapshots(request: Request) -> Snapshots:
    return request.app.state.snapshots  # type: ignore[no-any-return]


def _storage(request: Request) -> Storage:
    return request.app.state.storage  # type: ignore[no-any-return]


@router.get("/session", summary="The caller's token: its project and role")
def session(token: Token = Reader) -> dict[str, str]:
    return {"project": token.project, "role": token.role, "label": token.label}


@router.get(
    "/progress",
    summary="Progress per round of each of the project's studies: finished and planned trials",
)
def progress(request: Request, token: Token = Reader) -> list[dict[str, Any]]:
    storage = _storage(request)
    studies = storage.list_studies(project=token.project)
    done = storage.round_progress([s.name for s in studies])
    out = []
    for s in studies:
        plan = storage.get_study(s.name).spec.plan
        rounds = [
            {
                "round": i + 1,
                "algorithm": r.algorithm,
                "done": done[s.name].get(i, 0),
                "planned": r.trials,
            }
            for i, r in enumerate(plan)
        ]
        out.append({"name": split(s.name)[1], "rounds": rounds})
    return out


@router.get(
    "/studies/{name}/changes",
    responses=NOT_FOUND,
    summary="Whether the study changed since a fingerprint (cheap enough to poll every second)",
)
def changes(
    name: str,
    request: Request,
    since: str = Query("", max_length=64, description="the fingerprint the page last saw"),
    token: Token = Reader,
) -> dict[str, Any]:
    fingerprint = _snapshots(request).fingerprint(qualified(token.project, name))
    return {"fingerprint": fingerprint, "changed": fingerprint != since}


@router.get(
    "/studies/{name}/table",
    responses=NOT_FOUND,
    summary="One page of the leaderboard: every trial, sorted by any column, filtered by "
    "state, round and parameter ranges or choices",
)
def table(
    name: str,
    request: Request,
    sort: str = Query("rank", max_length=300, description="rank, number, value... param:<name>"),
    descending: bool = False,
    state: list[str] = Query([], description="keep these states (repeat)"),
    round: int | None = Query(None, ge=1, le=10_000),
    param: list[str] = Query(
        [], description="'name:low:high' (an end may be empty) or 'name=choice' (repeat)"
    ),
    offset: int = Query(0, ge=0, le=10**9),
    limit: int = Query(50, ge=1, le=1000),
    token: Token = Reader,
) -> dict[str, Any]:
    where = Filter.parse(state, round, param)
    key = qualified(token.project, name)
    return leaderboard_page(_snapshots(request), key, where, sort, descending, offset, limit)


@router.get(
    "/studies/{name}/plots",
    responses=NOT_FOUND,
    summary="The study page's plots, sampled and binned on the server (cached per study state)",
)
def plot_data(
    name: str,
    request: Request,
    metric: str | None = Query(
        None, max_length=256, description="several metrics: the one the plots show"
    ),
    token: Token = Reader,
) -> dict[str, Any]:
    key = qualified(token.project, name)
    snap = _snapshots(request).get(key)
    table = snap.table
    shown = None if metric is None or metric == table.spec.metric else metric
    cached = "plots" if shown is None else f"plots:{shown}"
    if cached not in snap.derived:
        snap.derived[cached] = plots(_storage(request), key, table, shown)
    return {"fingerprint": snap.fingerprint, **snap.derived[cached]}


@router.get(
    "/studies/{name}/history",
    responses=NOT_FOUND,
    summary="The history plot's data alone (sampled on the server), from an indexed query "
    "while the study's table is not built: what the page draws first",
)
def history_data(name: str, request: Request, token: Token = Reader) -> dict[str, Any]:
    key = qualified(token.project, name)
    snapshots = _snapshots(request)
    fingerprint = snapshots.fingerprint(key)
    if not snapshots.has(key):
        quick = snapshots.early(key, fingerprint, lambda: quick_history(_storage(request), key))
        snapshots.warm(key)
        return {"fingerprint": fingerprint, **quick}
    snap = snapshots.get(key)
    table = snap.table
    data = snap.derived["plots"]["history"] if "plots" in snap.derived else plot_history(table)
    out = {"direction": table.spec.direction.value, "algorithms": table.algorithms}
    return {"fingerprint": snap.fingerprint, **out, "history": data}


@router.get(
    "/studies/{name}/trials/{number:int}/attempts",
    responses=described({404: "no such study or trial"}),
    summary="Every attempt of a trial: worker, times, outcome and error text",
)
def attempts(
    name: str, request: Request, number: int = Path(ge=0, le=2**31 - 1), token: Token = Reader
) -> list[dict[str, Any]]:
    trial = _storage(request).trial(qualified(token.project, name), number)
    return [a.to_dict() for a in trial.attempts]


@router.get(
    "/studies/{name}/download",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the trials, as a file to save",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
        },
        **NOT_FOUND,
    },
    summary="Every trial of the study as CSV (one column per parameter and metric) or JSON",
)
def download(
    name: str,
    request: Request,
    format: Literal["csv", "json"] = "csv",
    token: Token = Reader,
) -> StreamingResponse:
    storage = _storage(request)
    key = qualified(token.project, name)
    spec = storage.get_study(key).spec
    params = [p.name for p in spec.space]
    body = _csv(storage, key, params) if format == "csv" else _json(storage, key)
    return StreamingResponse(
        body,
        media_type="text/csv" if format == "csv" else "application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}-trials.{format}"'},
    )


def _pages(storage: Storage, key: str) -> Iterator[list[Any]]:
    offset = 0
    while batch := storage.trials(key, offset=offset, limit=DOWNLOAD_PAGE):
        yield batch
        offset += len(batch)


def _csv(storage: Storage, key: str, params: list[str]) -> Iterator[str]:
    fixed = ["number", "round", "state", "value", "attempts", "worker", "error"]
    times = ["started_at", "finished_at", "duration"]
    metrics: list[str] | None = None
    for batch in _pages(storage, key):
        out = io.StringIO()
        writer = csv.writer(out)
        if metrics is None:
            metrics = sorted({k for t in batch for k in t.values})
            writer.writerow([*fixed, *(f"metric:{m}" for m in metrics), *params, *times])
        for t in batch:
            d = t.to_dict()
            writer.writerow(
                [
                    *(d[k] for k in fixed),
                    *(t.values.get(m) for m in metrics),
                    *(_cell(t.params.get(p)) for p in params),
                    *(d[k] for k in times),
                ]
            )
        yield out.getvalue()
    if metrics is None:
        yield ",".join([*fixed, *params, *times]) + "\r\n"


def _cell(v: Any) -> Any:
    return json.dumps(v) if isinstance(v, list | dict | bool) else v


def _json(storage: Storage, key: str) -> Iterator[str]:
    yield "["
    first = True
    for batch in _pages(storage, key):
        for t in batch:
            yield ("" if first else ",\n") + json.dumps(t.to_dict())
            first = False
    yield "]\n"


@router.post(
    "/studies/yaml",
    status_code=201,
    response_model=StudyOut,
    responses=described(
        {
            409: "the project has a study of that name",
            422: "the YAML or the study is invalid: the field, its reason and its line",
        }
    ),
    summary="Submit a study written in YAML (what the page's paste or upload sends)",
    openapi_extra={
        "requestBody": {"content": {"application/yaml": {"schema": {"type": "string"}}}}
    },
)
async def create_from_yaml(request: Request, token: Token = Writer) -> StudyOut | JSONResponse:
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _yaml_error(SpecError("yaml", "must be UTF-8 text"), "")
    return await run_in_threadpool(_create_from_yaml, request, text, token)


def _create_from_yaml(request: Request, text: str, token: Token) -> StudyOut | JSONResponse:
    settings: Settings = request.app.state.settings
    try:
        spec = StudySpec.from_dict(parse_yaml(text), limits=settings.limits)
    except SpecError as exc:
        return _yaml_error(exc, text)
    storage = _storage(request)
    record = storage.create_study(spec, project=token.project)
    return StudyOut.of(storage.study_summary(record.name), spec=record.spec.to_dict())


def _yaml_error(exc: SpecError, text: str) -> JSONResponse:
    """The API's error body, with the line of the field in the YAML (null if not found)."""
    body = {"code": exc.code, "message": exc.reason, "field": exc.field or None}
    return JSONResponse({"error": {**body, "line": line_of(text, exc.field)}}, status_code=422)
