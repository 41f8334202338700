"""Setting up a run of a study: the one way ``tuner run`` and the server's runs do it.

``prepare_run`` checks the objective (the operator's policy first, for a server: before
anything of the study is imported) while nothing is written yet; ``RunSetup.open`` creates the
study or takes up the changed spec of a stored one by the resume rules, builds the executor and
hands back a ``StudyRunner`` with the lease, artifacts and module search path of the settings.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from tuner import plugins
from tuner.config import Settings
from tuner.errors import NotFound, SpecError
from tuner.objective import load_function, search_paths
from tuner.plan import resumed_plan
from tuner.projects import DEFAULT_PROJECT, qualified
from tuner.run_policy import RunPolicy
from tuner.runner import RunEvent, StudyRunner
from tuner.storage import Storage, StudyRecord
from tuner.study import StudySpec

# What a resumed study may not change: its trials would no longer compare.
FIXED = ("space", "direction", "metric", "objective")


@dataclass(frozen=True)
class RunSetup:
    """A study checked to be runnable here, ready to open on a database (``prepare_run``)."""

    spec: StudySpec
    settings: Settings
    paths: tuple[str, ...]

    def open(
        self,
        storage: Storage,
        key: str | None = None,
        on_event: Callable[[RunEvent], None] | None = None,
    ) -> StudyRunner:
        """The runner of the stored study ``key``, or of the spec's study, created or resumed
        by the resume rules (``create_or_resume``)."""
        if key is None:
            create_or_resume(storage, self.spec)
        executor = plugins.executor(self.spec.executor.type)(**self.spec.executor.options)
        return StudyRunner(
            storage,
            key or self.spec.name,
            executor,
            lease=self.settings.lease_seconds,
            on_event=on_event,
            artifacts_dir=os.path.abspath(self.settings.artifacts_dir),
            paths=self.paths,
        )


def prepare_run(
    spec: StudySpec,
    settings: Settings,
    *,
    folder: str | os.PathLike[str] | None = None,
    policy: RunPolicy | None = None,
) -> RunSetup:
    """Check that ``spec`` may and can run here, before anything is written: the operator's
    ``policy`` first (a server's runs: Forbidden otherwise, before anything of the study is
    imported), then what the objective names (``check_runnable``). ``folder``: the study
    file's folder, where its modules and data are looked for first."""
    if policy is not None:
        policy.check(spec)
    paths = search_paths(folder)
    check_runnable(spec, paths)
    return RunSetup(spec, settings, paths)


def check_runnable(spec: StudySpec, paths: Sequence[str] = ()) -> None:
    """What the objective names must exist here: the function (imported), the program, the
    trainer's data, label column, estimator and parameters; the executor's cluster must answer."""
    objective = spec.objective
    if objective is None:
        raise SpecError(
            "objective",
            "the study has no objective: its trials are run by remote "
            "workers ('tuner worker', the client's optimize()); give an objective "
            "to run it here",
        )
    if objective.function is not None:
        load_function(objective.function, paths)
    if objective.command is not None:
        from tuner.objective_spec import program_of

        program = program_of(objective.command)
        if (
            "{" not in program
            and shutil.which(program) is None
            and not (os.sep in program and os.access(program, os.X_OK))
        ):
            raise SpecError("objective.command", f"program {program!r} is not found")
    if objective.trainer is not None:
        trainer = plugins.trainer(objective.trainer)
        try:
            trainer.check_study(objective.options, spec.space)
        except SpecError as exc:
            raise (
                exc if exc.field and exc.field.startswith("space.") else exc.within("objective")
            ) from None
    executor = plugins.executor(spec.executor.type)
    try:
        executor.check_environment(spec.executor.options)
    except SpecError as exc:
        raise exc.within("executor") from None


def create_or_resume(
    storage: Storage, spec: StudySpec, project: str = DEFAULT_PROJECT
) -> tuple[StudyRecord, bool]:
    """Store ``spec`` as a new study of ``project`` (then True), or take it up for the stored
    study of that name: the same space, direction, metric and objective, and a plan that only
    grows (``tuner.plan.resumed_plan``). SpecError names what may not change. A spec without
    an objective keeps the stored one; a stored study without one may be given one."""
    key = qualified(project, spec.name)
    try:
        record = storage.get_study(key)
    except NotFound:
        return storage.create_study(spec, project=project), True
    stored = record.spec
    if spec.objective is None:
        spec = replace(spec, objective=stored.objective)
    for name in FIXED:
        before, after = stored.to_dict().get(name), spec.to_dict().get(name)
        if before != after and not (name == "objective" and before is None):
            raise SpecError(
                name,
                f"study {spec.name!r} already exists with another {name}; give "
                "the study a new name to start afresh",
            )
    made = storage.trials_per_round(key)
    plan, current = resumed_plan(
        stored.plan,
        stored.budget,
        spec.plan,
        spec.budget,
        [made.get(i, 0) for i in range(len(stored.plan))],
        record.round,
    )
    budget = spec.budget if spec.budget == sum(r.trials for r in plan) else None
    updated = replace(spec, plan=plan, budget=budget)
    if updated.to_dict() == stored.to_dict() and current == record.round:
        return record, False
    return storage.update_spec(key, updated, current), False
