"""The JSON routes the web page's model pages need beside the registry's own: the project's
models with their latest metric and last change, and what a trial saved and was promoted to.
Same tokens and projects as every ``/api/v1`` route: another project's study is 404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request

from tuner.api.auth import Reader
from tuner.api.errors import COMMON, described
from tuner.models.bundle import read_manifest
from tuner.models.trial_model import trial_bundle
from tuner.projects import qualified, split
from tuner.storage import Storage
from tuner.storage.models import ModelVersion
from tuner.storage.tokens import Token

router = APIRouter(tags=["web page"], responses=COMMON)


def _storage(request: Request) -> Storage:
    return request.app.state.storage  # type: ignore[no-any-return]


def _version(v: ModelVersion) -> dict[str, Any]:
    """A version as the page shows it: the study by its name in the project."""
    out = v.to_dict()
    out["study"] = split(v.study)[1] if v.study else None
    return out


@router.get(
    "/model-overview",
    summary="The project's models, each with its latest version's metric and its last change",
)
def model_overview(request: Request, token: Token = Reader) -> list[dict[str, Any]]:
    storage = _storage(request)
    out = []
    for m in storage.list_models(token.project):
        latest = storage.model_version(token.project, m.name, m.latest)
        moves = storage.alias_history(token.project, m.name)
        changes = [latest.created_at, *(move.at for move in moves)]
        out.append(
            {
                **m.to_dict(),
                "metric": latest.metric,
                "value": latest.value,
                "updated_at": max(changes).isoformat(),
            }
        )
    return out


@router.get(
    "/studies/{name}/trials/{number:int}/model",
    responses=described({404: "no such study or trial"}),
    summary="The model a trial saved (its flavor and digest) and the registry versions made "
    "from that trial",
)
def trial_model(
    name: str, request: Request, number: int = Path(ge=0, le=2**31 - 1), token: Token = Reader
) -> dict[str, Any]:
    storage = _storage(request)
    key = qualified(token.project, name)
    trial = storage.trial(key, number)
    folder = trial_bundle(trial.meta.get("artifact"))
    saved = None
    if folder is not None:
        manifest = read_manifest(folder)
        saved = {
            "flavor": manifest.flavor,
            "digest": manifest.digest,
            "metrics": dict(manifest.metrics),
            "inputs": [f.name for f in manifest.signature.inputs],
        }
    versions = [
        _version(v)
        for m in storage.list_models(token.project)
        for v in storage.model_versions(token.project, m.name)
        if v.study == key and v.trial == number
    ]
    return {"saved": saved, "versions": versions}
