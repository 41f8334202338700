"""Who may run what on a server: server-side runs are the operator's decision, not a token's.

A token may submit studies and have remote workers run their trials on their own machines; the
server itself runs a study (``POST .../run``) only when its operator allowed server-side runs at
all (``tuner serve --allow-runs``) and allowed what the study runs: function objectives under
given module prefixes, command lines of given programs (plain words, no shell syntax), built-in
trainers on data under given folders, on given executors, with no executor option that would
reach another machine or another interpreter.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuner.errors import Forbidden

if TYPE_CHECKING:
    from tuner.study import StudySpec

# What /bin/sh would treat as more than words: chaining, pipes, redirection, substitution, globs.
_SHELL_SYNTAX = re.compile(r"[;&|<>()$`\\\n*?\[\]!]")
# Executor options a study may not set for a server-side run: they would send the run (and its
# results, unpickled here) to another machine, or run the command line in another interpreter.
_OPERATOR_OPTIONS = ("address", "master", "shell")


@dataclass(frozen=True)
class RunPolicy:
    """What the operator allows the server to run (``Settings.run_policy``)."""

    enabled: bool = False
    functions: tuple[str, ...] = ()  # module prefixes: ``team.models`` allows team.models.x:fn
    commands: tuple[str, ...] = ()  # program names (found on PATH) or absolute paths
    data: tuple[str, ...] = ()  # folders (real paths) that trainers may read data from
    executors: tuple[str, ...] = ("local", "command")

    def check(self, spec: StudySpec) -> None:
        """Raise Forbidden (403) naming the field and the reason unless the server may run
        ``spec``; checked before anything of the study is imported, read or started."""
        if not self.enabled:
            raise Forbidden(
                "server-side runs are off on this server: its operator enables "
                "them with 'tuner serve --allow-runs' (remote workers need no "
                "permission: 'tuner worker' or the client's optimize())"
            )
        objective = spec.objective
        if objective is None:
            return  # refused later as a 422: there is nothing to run
        executor = spec.executor
        if executor.type not in self.executors:
            raise Forbidden(
                f"executor {executor.type!r} is not allowed for server-side runs "
                f"(allowed: {', '.join(self.executors) or 'none'}; "
                "--allow-executor)",
                field="executor.type",
            )
        for key in _OPERATOR_OPTIONS:
            if key in executor.options:
                raise Forbidden(
                    f"a server-side run uses the server's own {key}: a study may not set it",
                    field=f"executor.{key}",
                )
        if objective.function is not None:
            self._check_function(objective.function)
        elif objective.command is not None:
            self._check_command(objective.command)
        elif objective.trainer is not None:
            self._check_trainer(objective.trainer, objective.options)

    def _check_function(self, ref: str, field: str = "objective.function") -> None:
        module, _, attr = ref.partition(":")
        if "." in attr or attr.startswith("_"):
            raise Forbidden(
                f"{ref!r}: a server-side run calls a public function of a module "
                "(module:function), not an attribute path",
                field=field,
            )
        if not self.module_allowed(module):
            raise Forbidden(
                f"module {module!r} is not allowed for server-side runs (allowed "
                f"prefixes: {', '.join(self.functions) or 'none'}; "
                "--allow-function)",
                field=field,
            )

    def module_allowed(self, module: str, extra: tuple[str, ...] = ()) -> bool:
        for prefix in (*self.functions, *extra):
            if prefix.endswith("."):
                if module.startswith(prefix):
                    return True
            elif module == prefix or module.startswith(prefix + "."):
                return True
        return False

    def _check_command(self, command: str) -> None:
        from tuner.objective_spec import PLACEHOLDER, program_of

        bare = PLACEHOLDER.sub("", command)  # placeholders are replaced by quoted values
        syntax = _SHELL_SYNTAX.search(bare)
        if syntax:
            raise Forbidden(
                f"the command uses shell syntax ({syntax.group()!r}): a server-side "
                "run takes a program and its arguments only",
                field="objective.command",
            )
        program = program_of(command)
        if program != command.split()[0]:
            raise Forbidden(
                "a server-side run does not take variables before the program",
                field="objective.command",
            )
        allowed = {p for p in self.commands if "/" not in p}
        paths = {os.path.realpath(p) for p in self.commands if "/" in p}
        if program in allowed or ("/" in program and os.path.realpath(program) in paths):
            return
        raise Forbidden(
            f"program {program!r} is not allowed for server-side runs (allowed: "
            f"{', '.join(self.commands) or 'none'}; --allow-command)",
            field="objective.command",
        )

    def _check_trainer(self, trainer: str, options: dict[str, object]) -> None:
        from tuner import plugins

        data = options.get("data")
        if not isinstance(data, str) or not self.data_allowed(data):
            raise Forbidden(
                f"data {data!r} is not under a folder allowed for server-side runs "
                f"(allowed: {', '.join(self.data) or 'none'}; --allow-data)",
                field="objective.data",
            )
        estimator = options.get("estimator")
        if isinstance(estimator, str):
            modules = plugins.trainer(trainer).estimator_modules
            module = estimator.rpartition(".")[0]
            if not self.module_allowed(module, modules):
                raise Forbidden(
                    f"estimator {estimator!r} is not allowed for server-side runs "
                    f"(allowed: {', '.join((*modules, *self.functions))})",
                    field="objective.estimator",
                )

    def data_allowed(self, path: str) -> bool:
        real = os.path.realpath(path)
        return any(real == root or real.startswith(os.path.join(root, "")) for root in self.data)
