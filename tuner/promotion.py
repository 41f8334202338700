"""From trial to model version: a study's best trial (or a chosen one) becomes a new version of a
registered model, from the bundle the trial saved or, with ``retrain``, refitted on all the data
(a built-in trainer knows how; a function objective may offer ``fit(params)`` beside it).

The version's metrics are the trial's; the promotion rule compares the study's metric in the
study's direction (``ModelRegistry.register``)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tuner.config import Settings
from tuner.errors import Conflict, NotFound, SpecError
from tuner.models.bundle import MANIFEST, Lineage, Manifest, read_manifest, write_bundle
from tuner.models.store import ArtifactStore
from tuner.models.trial_model import trial_bundle
from tuner.registry import ModelRegistry, Registration, default_store_url
from tuner.storage import Storage
from tuner.study import StudySpec
from tuner.trial import Trial, TrialState


def promote(
    storage: Storage,
    registry: ModelRegistry,
    study: str,
    model: str,
    *,
    trial: int | None = None,
    retrain: bool = False,
    alias: str | None = None,
    when: str = "better",
    paths: Sequence[str] = (),
) -> Registration:
    """Register the model of ``study``'s best complete trial (or trial ``trial``) as the next
    version of ``model``; with ``alias``, move it by ``when`` (``better`` or ``always``).
    ``paths``: where the study's modules are found (for ``retrain`` of a function)."""
    record = storage.get_study(study)
    spec = record.spec
    chosen = _trial(storage, study, trial)
    metric = spec.metric or "value"
    lineage = Lineage(study, chosen.number, dict(chosen.params))
    metrics = {k: float(v) for k, v in chosen.values.items()}
    if chosen.value is not None:
        metrics.setdefault(metric, float(chosen.value))
    with tempfile.TemporaryDirectory(prefix="tuner-promote-") as tmp:
        folder = Path(tmp) / "bundle"
        if retrain:
            fitted, example = refit(spec, chosen.params, paths)
            write_bundle(fitted, folder, example=example, metrics=metrics, lineage=lineage)
        else:
            saved = trial_bundle(chosen.meta.get("artifact"))
            if saved is None:
                raise Conflict(
                    f"trial {chosen.number} of {study!r} saved no model: call "
                    "trial.save_model(model) in the objective, set save_model: true for a "
                    "built-in trainer, or promote with --retrain"
                )
            restamp(saved, folder, metrics, lineage)
        return registry.register(
            model,
            folder,
            metric=metric,
            direction=spec.direction.value,
            alias=alias,
            when=when,
        )


def promote_at_end(
    storage: Storage, spec: StudySpec, settings: Settings, paths: Sequence[str] = ()
) -> str:
    """Run a finished study's ``promote:`` block (once: a best trial already registered from
    this study is not registered again); what it did, in one line."""
    block = spec.promote
    assert block is not None
    store = ArtifactStore(default_store_url(settings.artifacts_dir))
    registry = ModelRegistry(storage, store)
    best = _trial(storage, spec.name, None)
    try:
        versions = registry.versions(block.model)
    except NotFound:
        versions = []
    for v in versions:
        if v.study == spec.name and v.trial == best.number:
            return f"promote: {block.model}:{v.version} is trial {best.number} already"
    reg = promote(
        storage,
        registry,
        spec.name,
        block.model,
        retrain=block.retrain,
        alias=block.alias,
        when=block.when,
        paths=paths,
    )
    return "promote: " + describe(reg)


def _trial(storage: Storage, study: str, number: int | None) -> Trial:
    """Trial ``number``, or the study's best: its leaderboard's first, which must be feasible
    (a model that broke a constraint is promoted only when chosen by number)."""
    if number is None:
        best = storage.ranked(study, 1)
        if not best:
            raise Conflict(f"study {study!r} has no complete trial to promote")
        if best[0].violation > 0:
            raise Conflict(
                f"study {study!r} has no feasible trial to promote: every complete one broke a "
                f"constraint (the least, trial {best[0].trial.number}, by "
                f"{best[0].violation:g}); choose a trial by number to promote it anyway",
                "trial",
            )
        return best[0].trial
    t = storage.trial(study, number)
    if t.state is not TrialState.COMPLETE:
        raise Conflict(f"trial {number} of {study!r} is {t.state.value}, not complete", "trial")
    return t


def restamp(source: Path, target: Path, metrics: dict[str, float], lineage: Lineage) -> Manifest:
    """A copy of the bundle at ``source`` (checked first) at ``target``, its manifest carrying
    the trial's final ``metrics`` and ``lineage`` (the model files are the same bytes)."""
    manifest = read_manifest(source)
    shutil.copytree(source, target)
    stamped = Manifest(
        flavor=manifest.flavor,
        signature=manifest.signature,
        files=manifest.files,
        versions=manifest.versions,
        requires=manifest.requires,
        metrics=metrics,
        lineage=lineage,
        examples=manifest.examples,
        created_at=manifest.created_at,
    )
    path = target / MANIFEST
    path.chmod(0o644)
    path.write_text(stamped.text())
    path.chmod(0o444)
    return stamped


def refit(spec: StudySpec, params: dict[str, Any], paths: Sequence[str]) -> tuple[Any, Any]:
    """The model of ``params`` fitted on all the data, and example rows: a trainer's ``refit``,
    or the ``fit(params)`` a function objective's module offers beside it (returning the model,
    or ``(model, example_rows)``)."""
    objective = spec.objective
    if objective is None or objective.command is not None:
        raise SpecError(
            "retrain", "only a built-in trainer or a function objective with fit() can retrain"
        )
    if objective.trainer is not None:
        from tuner import plugins

        return plugins.trainer(objective.trainer)(objective.options).refit(params)  # type: ignore[no-any-return]
    from tuner.objective import load_function

    assert objective.function is not None
    module, _, _ = objective.function.partition(":")
    try:
        fit = load_function(f"{module}:fit", paths)
    except SpecError:
        raise SpecError(
            "retrain",
            f"{module!r} has no fit(params) beside the objective: add one that returns the "
            "fitted model (or (model, example_rows)) to retrain",
        ) from None
    result = fit(dict(params))
    if isinstance(result, tuple) and len(result) == 2:
        return result[0], result[1]
    return result, None


def describe(reg: Registration) -> str:
    """One line on what a promotion did."""
    v = reg.version
    where = f"study {v.study} trial {v.trial}" if v.study else "no study"
    alias = f"; {reg.reason}" if reg.reason else ""
    score = f" {v.metric}={v.value:.6g}" if v.metric and v.value is not None else ""
    moved = f" -> {reg.moved.alias}" if reg.moved else ""
    return f"registered {v.model}:{v.version}{moved} ({v.flavor},{score} from {where}){alias}"


def summary_json(reg: Registration) -> str:
    return json.dumps(
        {
            "version": reg.version.to_dict(),
            "moved": reg.moved.to_dict() if reg.moved else None,
            "reason": reg.reason,
        },
        indent=2,
    )
