"""The Flavor contract: how one framework's model is saved into a bundle and loaded back.

Flavors are plug-ins found by name (``[project.entry-points."tuner.flavors"]``), so a third
party adds a framework by installing a package. Contract, checked by
``tuner.testing.FlavorConformance`` for every implementation:

- ``accepts(model)`` is True exactly for the objects ``save`` takes, and never imports the
  framework (it looks at the object's type), so that inferring a flavor costs nothing.
- ``save(model, folder, signature)`` writes the model in the framework's native format into
  ``folder`` (which exists and is empty) and returns nothing; what it needs to read rows (the
  feature list, categorical encodings) is the signature's, stored in the manifest beside it.
- ``load(folder, signature)`` returns a ``LoadedModel`` whose ``predict(frame)`` takes a
  DataFrame of the signature's columns, in order, with the signature's dtypes (as
  ``Signature.frame`` makes it) and returns one prediction per row (a 1-D array, or 2-D with one
  column per class for probabilities of more than two classes) of the signature's output kind.
- ``requires`` names the modules ``load`` imports; a bundle whose flavor needs one that is not
  installed is refused naming it, before anything is loaded.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from tuner import plugins
from tuner.errors import BundleError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from tuner.models.signature import Output, Signature


class LoadedModel(Protocol):
    """A model read back from a bundle, ready to predict."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """One prediction per row of ``frame`` (the signature's columns and dtypes)."""


class Flavor(ABC):
    """One framework's way to save and load a model (see the module's contract)."""

    name: ClassVar[str] = ""
    # modules ``load`` imports, with the distribution that installs each (for the error)
    requires: ClassVar[dict[str, str]] = {}

    @classmethod
    @abstractmethod
    def accepts(cls, model: object) -> bool:
        """Whether ``save`` takes ``model`` (by its type; no framework import)."""

    @abstractmethod
    def output(self, model: Any) -> Output:
        """What the model predicts: values, probabilities (with the classes) or labels."""

    def signature(self, model: Any) -> Signature | None:
        """The signature the model knows by itself (its feature names), if any; a trial's
        example rows say more (types, categories) and win."""
        return None

    @abstractmethod
    def save(self, model: Any, folder: Path, signature: Signature) -> None:
        """Write ``model`` into the empty ``folder`` in the framework's native format."""

    @abstractmethod
    def load(self, folder: Path, signature: Signature) -> LoadedModel:
        """Read the model that ``save`` wrote into ``folder``."""

    def versions(self) -> dict[str, str]:
        """The versions of Python and of the distributions this flavor depends on."""
        found = {"python": platform.python_version()}
        for dist in sorted(set(self.requires.values())):
            try:
                found[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue
        return found

    def check_installed(self) -> None:
        """``BundleError`` naming the first module this flavor needs that is not installed."""
        check_installed(self.name, self.requires)


def check_installed(flavor: str, requires: dict[str, str]) -> None:
    """``BundleError`` naming the first of ``requires`` (module: distribution) missing here."""
    for module, dist in requires.items():
        if importlib.util.find_spec(module.partition(".")[0]) is None:
            raise BundleError(
                f"the {flavor!r} flavor needs the package {dist!r} (module {module!r}), which "
                f"is not installed here: pip install {dist}"
            )


def flavor_named(name: str) -> Flavor:
    """The installed flavor ``name``; ``BundleError`` naming it (and the known ones) if none."""
    return plugins.flavor(name)()


def flavor_of(model: object) -> Flavor:
    """The one installed flavor that accepts ``model``; ``BundleError`` when none or several
    do (then ``flavor=`` must say which)."""
    found = []
    for name in plugins.flavor_names():
        try:
            cls = plugins.flavor(name)
        except BundleError:
            continue  # a broken plug-in cannot take the model
        if cls.accepts(model):
            found.append(cls)
    kind = f"{type(model).__module__}.{type(model).__qualname__}"
    if not found:
        raise BundleError(
            f"no flavor takes a {kind} (flavors: {', '.join(plugins.flavor_names())}); "
            "pass flavor= to name one",
            "flavor",
        )
    if len(found) > 1:
        raise BundleError(
            f"several flavors take a {kind} ({', '.join(c.name for c in found)}); pass flavor= "
            "to say which",
            "flavor",
        )
    return found[0]()
