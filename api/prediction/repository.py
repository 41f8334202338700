"""The model repository calls (the Open Inference Protocol's repository extension: index, load,
unload), one implementation for gRPC and REST: who may make them (a live token of the server's
project, ``read`` for the index, ``write`` to load or unload) and making a load or unload on
every worker of the server (``workers``), answered once every one has.

Failures are ``TunerError``s each protocol maps to its own status: ``Unauthorized`` (no or an
unknown token), ``Forbidden`` (a read token, another project's), ``Unavailable`` (tokens cannot
be read now), ``NotFound`` (no such model, version or alias; a model not served), ``Conflict``
(a version refused by a worker: the old one keeps serving there).
"""

from __future__ import annotations

import logging
from typing import Any

from tuner.api.prediction import workers
from tuner.api.prediction.served import ServedModels, parse_served
from tuner.api.prediction.workers import WorkerLink
from tuner.errors import Conflict, Forbidden, NotFound, TunerError, Unauthorized, Unavailable

log = logging.getLogger("tuner.serving")

_FAILED = ("refused", "not found", "failed")


def authorize(models: ServedModels, header: str, role: str) -> None:
    """``header`` (``authorization``: ``Bearer <token>``) must be a live token of the server's
    project allowing ``role``."""
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized(
            f"authorization: send 'Bearer <token>', a {role} token of project {models.project!r}"
        )
    try:
        token = models.registry.storage.tokens.verify(secret.strip())
    except Exception:  # the database away: no decision can be made
        log.warning("repository call: tokens cannot be read now", exc_info=True)
        raise Unavailable("tokens cannot be checked now; retry") from None
    if token is None:
        raise Unauthorized("authorization: unknown, revoked or expired token")
    if token.project != models.project or not token.allows(role):
        raise Forbidden(
            f"authorization: a {token.role} token of project {token.project!r} cannot "
            f"{'load or unload' if role == 'write' else 'read'} models of project "
            f"{models.project!r} (a {role} token of it can)"
        )


def index(models: ServedModels, ready: bool = False) -> list[dict[str, str]]:
    """The served models (Triton's repository index): name, version, state (``READY``,
    ``LOADING``, ``UNAVAILABLE``) and the reason of the last refusal; ``ready``: only those
    serving."""
    out = []
    for name, model in models.models.items():
        if ready and not model.ready:
            continue
        current = model.current
        out.append(
            {
                "name": name,
                "version": str(current.version.version) if current else "",
                "state": "READY" if current else "UNAVAILABLE" if model.refused else "LOADING",
                "reason": model.refused.reason if model.refused else "",
            }
        )
    return out


def load(models: ServedModels, peers: WorkerLink | None, ref: str) -> str:
    """Serve ``ref`` (``churn``: its production alias, ``churn@staging``, ``churn:3``) on every
    worker, through the same load, check, warm and swap as an alias move; the model's name."""
    name = parse_served(ref)[0]
    here, others = _everywhere(models, peers, workers.LOAD, ref)
    if here.startswith("not found"):
        raise NotFound(here.removeprefix("not found: "))
    failed = {i: o for i, o in {-2: here, **others}.items() if o.split(":")[0] in _FAILED}
    if failed:
        model = models.models.get(name)
        serving = model.current if model is not None else None
        still = f"; still serving version {serving.version.version}" if serving else ""
        raise Conflict(f"{ref}: {_said(failed)}{still}")
    return name


def unload(models: ServedModels, peers: WorkerLink | None, name: str) -> None:
    """Stop serving ``name`` on every worker."""
    here, others = _everywhere(models, peers, workers.UNLOAD, name)
    if here.startswith("not found"):
        raise NotFound(here.removeprefix("not found: "))
    failed = {i: o for i, o in others.items() if o.split(":")[0] in _FAILED}
    if failed:
        raise TunerError(f"{name}: {_said(failed)}")


def _everywhere(
    models: ServedModels, peers: WorkerLink | None, op: str, arg: str
) -> tuple[str, dict[int, str]]:
    """``op`` on this worker's models and on every other worker's at once: this one's outcome
    and theirs (by worker index)."""
    asked: Any = peers.ask(op, arg) if peers is not None else None
    here = workers.apply(models, op, arg)
    return here, peers.wait(asked) if peers is not None else {}


def _said(failed: dict[int, str]) -> str:
    """Outcomes by worker (-2: the one answering the call) as one sentence."""
    return "; ".join(
        (f"worker {i}: " if i >= 0 else "other workers: " if i == -1 else "") + outcome
        for i, outcome in sorted(failed.items())
    )
