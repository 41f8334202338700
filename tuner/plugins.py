"""Plug-ins found by name through entry points (algorithms, executors, trainers, CLI commands),
so that a third party adds its own by installing a package
(``[project.entry-points."tuner.algorithms"]``)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from tuner.errors import SpecError

if TYPE_CHECKING:
    from tuner.algorithm import Algorithm
    from tuner.cli import Command
    from tuner.executor import Executor
    from tuner.models.flavor import Flavor
    from tuner.pruner import Pruner
    from tuner.trainer import Trainer

ALGORITHMS = "tuner.algorithms"
EXECUTORS = "tuner.executors"
PRUNERS = "tuner.pruners"
TRAINERS = "tuner.trainers"
COMMANDS = "tuner.commands"


@cache
def _group(group: str) -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=group)}


def names(group: str) -> list[str]:
    return sorted(_group(group))


def _load(group: str, name: str, what: str) -> Any:
    ep = _group(group).get(name)
    if ep is None:
        known = ", ".join(names(group)) or "none installed"
        raise SpecError("", f"unknown {what} {name!r} (known: {known})")
    try:
        return ep.load()  # type: ignore[attr-defined]
    except Exception as exc:  # a broken plug-in is the spec's problem, said in one line
        reason = f"{what} {name!r} cannot be loaded: {type(exc).__name__}: {exc}"
        raise SpecError("", reason) from None


def algorithm(name: str) -> type[Algorithm]:
    return _load(ALGORITHMS, name, "algorithm")


def pruner(name: str) -> type[Pruner]:
    return _load(PRUNERS, name, "pruner")


def executor(name: str) -> type[Executor]:
    return _load(EXECUTORS, name, "executor")


def trainer(name: str) -> type[Trainer]:
    return _load(TRAINERS, name, "trainer")


def commands() -> list[str]:
    """The names of the ``tuner`` sub-commands, without loading any."""
    return names(COMMANDS)


def command(name: str) -> type[Command]:
    return _load(COMMANDS, name, "command")


FLAVORS = "tuner.flavors"


def flavor_names() -> list[str]:
    """The model flavors installed (``tuner.flavors`` entry points), without loading any."""
    return names(FLAVORS)


def flavor(name: str) -> type[Flavor]:
    """The flavor class named ``name``; ``BundleError`` naming it when unknown or broken."""
    from tuner.errors import BundleError

    try:
        return _load(FLAVORS, name, "flavor")  # type: ignore[no-any-return]
    except SpecError as exc:
        raise BundleError(str(exc)) from None
