"""The model registry over REST: models, versions, aliases and their history, and promoting a
study's best trial. The same tokens, projects and roles as studies: another project's models
do not exist for a token (404)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from tuner.api.auth import Reader, Writer
from tuner.api.errors import COMMON, described
from tuner.errors import Forbidden
from tuner.models.store import ArtifactStore
from tuner.projects import qualified
from tuner.promotion import promote
from tuner.registry import ModelRegistry, default_store_url
from tuner.storage.models import AliasMove, ModelSummary, ModelVersion
from tuner.storage.tokens import Token

router = APIRouter(tags=["models"], responses=COMMON)
NOT_FOUND = described({404: "no such model (or version, alias) in the token's project"})
_INT = 2**31 - 1
MODEL = Path(..., description="the model's name", max_length=128)


class ModelOut(BaseModel):
    name: str
    versions: int
    latest: int
    aliases: dict[str, int] = Field(description="alias -> version")
    created_at: datetime | None = None

    @classmethod
    def of(cls, m: ModelSummary) -> ModelOut:
        return cls(**m.to_dict())


class VersionOut(BaseModel):
    model: str
    version: int
    aliases: list[str]
    flavor: str
    metric: str | None
    direction: str | None
    value: float | None
    metrics: dict[str, float]
    study: str | None
    trial: int | None
    params: dict[str, Any]
    signature: dict[str, Any] = Field(description="inputs (names, types, categories) and output")
    uri: str
    digest: str = Field(description="SHA-256 of the bundle's manifest")
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, v: ModelVersion) -> VersionOut:
        return cls(**v.to_dict())


class AliasMoveOut(BaseModel):
    model: str
    alias: str
    from_version: int | None
    to_version: int
    actor: str
    reason: str
    at: datetime

    @classmethod
    def of(cls, m: AliasMove) -> AliasMoveOut:
        return cls(**m.to_dict())


class AliasIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=_INT)
    reason: str = Field("", max_length=1000)


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(max_length=128, description="the registered model's name")
    trial: int | None = Field(None, ge=0, le=_INT, description="not the best trial: this one")
    alias: str | None = Field(None, max_length=64, description="e.g. production")
    when: str = Field("better", description="better (the alias moves only when better), always")
    retrain: bool = Field(False, description="refused: it runs the objective's code")


class PromotionOut(BaseModel):
    version: VersionOut
    moved: AliasMoveOut | None
    reason: str


def registry_of(request: Request, token: Token) -> ModelRegistry:
    """The registry as ``token`` sees it: its project's models, moves recorded as its own."""
    store = ArtifactStore(default_store_url(request.app.state.settings.artifacts_dir))
    return ModelRegistry(
        request.app.state.storage, store, project=token.project, actor=f"token {token.label}"
    )


@router.get("/models", response_model=list[ModelOut], summary="The project's models")
def list_models(request: Request, token: Token = Reader) -> list[ModelOut]:
    return [ModelOut.of(m) for m in registry_of(request, token).models()]


@router.get(
    "/models/{model}",
    response_model=list[VersionOut],
    responses=NOT_FOUND,
    summary="A model's versions, newest first",
)
def model_versions(request: Request, model: str = MODEL, token: Token = Reader) -> list[VersionOut]:
    return [VersionOut.of(v) for v in registry_of(request, token).versions(model)]


@router.get(
    "/models/{model}/history",
    response_model=list[AliasMoveOut],
    responses=NOT_FOUND,
    summary="Every alias move of a model (who, when, from which version), oldest first",
)
def alias_history(
    request: Request, model: str = MODEL, token: Token = Reader
) -> list[AliasMoveOut]:
    return [AliasMoveOut.of(m) for m in registry_of(request, token).history(model)]


@router.put(
    "/models/{model}/aliases/{alias}",
    response_model=AliasMoveOut,
    responses=NOT_FOUND,
    summary="Point an alias at a version (a rollback points it back)",
)
def set_alias(
    request: Request,
    body: AliasIn,
    model: str = MODEL,
    alias: str = Path(..., max_length=64),
    token: Token = Writer,
) -> AliasMoveOut:
    move = registry_of(request, token).set_alias(model, alias, body.version, body.reason)
    return AliasMoveOut.of(move)


@router.post(
    "/studies/{name}/promote",
    status_code=201,
    response_model=PromotionOut,
    responses={
        **NOT_FOUND,
        **described({409: "the study has no complete trial, or the trial saved no model"}),
    },
    summary="Register a study's best trial (or a chosen one) as a new version of a model",
)
def promote_trial(
    request: Request, body: PromoteIn, name: str, token: Token = Writer
) -> PromotionOut:
    if body.retrain:
        raise Forbidden(
            "retraining runs the objective's code: run 'tuner promote --retrain' where it may "
            "run, or promote the model a trial saved",
            "retrain",
        )
    registry = registry_of(request, token)
    reg = promote(
        registry.storage,
        registry,
        qualified(token.project, name),
        body.model,
        trial=body.trial,
        alias=body.alias,
        when=body.when,
    )
    return PromotionOut(
        version=VersionOut.of(reg.version),
        moved=AliasMoveOut.of(reg.moved) if reg.moved else None,
        reason=reg.reason,
    )
