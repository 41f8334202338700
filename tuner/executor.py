"""The Executor contract: where trials run. Executors never touch the database."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from tuner.errors import SpecError
from tuner.space import Params
from tuner.study import ObjectiveSpec
from tuner.trial import TrialState


@dataclass(frozen=True)
class TrialJob:
    """Everything needed to evaluate one attempt of one trial, picklable."""

    study: str
    number: int
    attempt: int
    params: Params
    objective: ObjectiveSpec
    metric: str | None = None
    timeout: float | None = None
    workdir: str | None = None  # the objective's working directory (the study file's folder)
    paths: tuple[str, ...] = ()  # where its modules are looked for (that folder, then the cwd)
    artifact_dir: str | None = None  # where the objective may save its model (made on demand)
    resource: int | None = None  # what the trial may spend (its round's resource.max), if given
    prunes: bool = False  # the study has a pruner: intermediate values may stop the trial

    @property
    def code_paths(self) -> tuple[str, ...]:
        """``paths``, else the working directory: where the objective's code comes from."""
        return self.paths or ((self.workdir,) if self.workdir else ())


@dataclass(frozen=True)
class TrialOutcome:
    """How an attempt ended: ``complete`` with a value, or ``failed`` with the reason."""

    state: TrialState
    value: float | None = None
    values: dict[str, float] = field(default_factory=dict)
    intermediate: tuple[tuple[int, float], ...] = ()
    error: str | None = None
    artifact: str | None = None  # the directory holding the model the attempt saved, if any

    @classmethod
    def failure(cls, error: str, intermediate: tuple[tuple[int, float], ...] = ()) -> TrialOutcome:
        return cls(TrialState.FAILED, error=error, intermediate=intermediate)


# Called with each intermediate value a running trial reports, (step, value); answering True asks
# the trial to stop early (``trial.should_prune()`` then says so).
StopListener = Callable[[int, float], bool]


class TrialContext(Protocol):
    """What an objective called as ``fn(params, trial)`` gets as ``trial``."""

    study: str
    number: int
    attempt: int
    params: Params
    artifact_dir: str | None  # save the trained model here (the trial's artifact), if set
    resource: int | None  # the most it may spend (boosting rounds, epochs): its round's resource
    # whether the study has a pruner: a trainer whose reports cost work (a Spark ML ensemble
    # fitted again at each checkpoint) reports only then
    prunes: bool

    def report(self, step: int, value: float) -> None:
        """Record an intermediate value; it reaches the runner while the trial runs."""

    def should_prune(self) -> bool:
        """Whether the runner asked the trial to stop early; the objective then returns what
        it has."""

    def save_model(self, model: Any, flavor: str | None = None, example: Any = None) -> None:
        """Save the trained model as a bundle in ``artifact_dir`` (the flavor inferred where
        one flavor takes it; ``example``: training rows, for the input signature)."""


class Executor(ABC):
    """Runs trial jobs somewhere and hands back futures of their outcomes.

    Contract, checked by ``tests/executors/conformance.py`` for every implementation:

    - ``submit`` returns at once; the future resolves to a ``TrialOutcome`` and never raises:
      an objective that raises, returns garbage, crashes its process or overruns ``job.timeout``
      gives a ``failed`` outcome whose ``error`` says why.
    - ``listener``, when given, hears each intermediate value while the trial runs (where the
      executor can carry it back, every executor here; else they come with the outcome); its
      answer True reaches the trial's ``should_prune()``.
    - at most ``capacity`` jobs run at once; more wait in the executor's own queue.
    - ``shutdown(cancel_running=True)`` stops running jobs (their futures are cancelled or fail)
      and frees every resource; ``shutdown()`` waits for running jobs to end.

    Options are the keyword-only arguments of ``__init__``; ``check_options`` refuses others
    without starting anything.
    """

    name: str = ""
    objectives: ClassVar[frozenset[str]] = frozenset({"function", "trainer"})  # kinds it runs
    provides: ClassVar[frozenset[str]] = frozenset()  # e.g. "spark": trainers that need it run

    @property
    @abstractmethod
    def capacity(self) -> int:
        """How many jobs run at once."""

    @abstractmethod
    def submit(self, job: TrialJob, listener: StopListener | None = None) -> Future[TrialOutcome]:
        """Start (or queue) ``job``."""

    @abstractmethod
    def shutdown(self, cancel_running: bool = False) -> None:
        """Stop accepting jobs, end or wait for the running ones, release resources."""

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """Refuse unknown option names; subclasses add checks of the values."""
        allowed = [
            p.name
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        for key in options:
            if key not in allowed:
                raise SpecError(
                    str(key),
                    f"unknown option of executor {cls.name!r}; options are "
                    f"{', '.join(allowed) or 'none'}",
                )

    @classmethod
    def check_environment(cls, options: Mapping[str, Any]) -> None:
        """Refuse, with a SpecError and within seconds, options naming something unreachable
        (a cluster address that does not answer); the default has nothing to reach."""
        return None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(cancel_running=True)
