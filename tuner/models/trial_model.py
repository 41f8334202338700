"""A trial's model: saved as a bundle in the trial's artifact folder (``trial.save_model``), and
found again when the trial is promoted to a model version."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from tuner.errors import TunerError
from tuner.models.bundle import Lineage, Manifest, write_bundle

BUNDLE = "bundle"  # the bundle's folder inside a trial's artifact folder


def save_trial_model(
    trial: Any, model: Any, flavor: str | None = None, example: Any = None
) -> Manifest:
    """Save ``model`` as the bundle of ``trial`` (a trial context with ``artifact_dir``, study,
    number and params): ``flavor`` inferred where one flavor takes the model, ``example``
    training rows for the signature (feature names, types, categories). Saving again in the
    same attempt replaces the bundle."""
    directory = getattr(trial, "artifact_dir", None)
    if not directory:
        raise TunerError(
            "this trial has no artifact folder to save a model in (run it with 'tuner run', a "
            "server-side run or an executor that sets one)"
        )
    folder = Path(directory) / BUNDLE
    if folder.exists():
        for p in folder.rglob("*"):
            if p.is_file():
                p.chmod(0o644)
        shutil.rmtree(folder)
    lineage = Lineage(
        getattr(trial, "study", None),
        getattr(trial, "number", None),
        dict(getattr(trial, "params", None) or {}),
    )
    return write_bundle(model, folder, flavor=flavor, example=example, lineage=lineage)


def trial_bundle(artifact: str | None) -> Path | None:
    """The bundle a trial saved, given its artifact folder (``Trial.meta["artifact"]``)."""
    if not artifact:
        return None
    folder = Path(artifact) / BUNDLE
    return folder if (folder / "MANIFEST.json").is_file() else None


def is_bundle(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / "MANIFEST.json").is_file()
