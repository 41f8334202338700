"""The command executor: the conformance suite (through a Python adapter script), a shell script,
the three ways params arrive, the result file, and the failure text a user reads."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.specs import runnable, spec_dict
from tuner import plugins
from tuner.errors import SpecError
from tuner.executor import TrialJob
from tuner.executors.command import CommandExecutor, command_line, param_env
from tuner.study import ObjectiveSpec, StudySpec
from tuner.testing.command_adapter import adapter_command
from tuner.testing.executors import ExecutorConformance, make_job, outcome_of
from tuner.trial import TrialState


def command_job(command: str, params: dict[str, Any] | None = None, **kw: Any) -> TrialJob:
    job = make_job("unused", params, **kw)
    return TrialJob(**{**job.__dict__, "objective": ObjectiveSpec(command=command)})


class TestCommandExecutor(ExecutorConformance):
    def make_executor(self, workers: int) -> CommandExecutor:
        return CommandExecutor(workers=workers)

    def job(self, function: str, params: dict[str, Any] | None = None, **kw: Any) -> TrialJob:
        ref = function if ":" in function else f"tuner.testing.objectives:{function}"
        return command_job(adapter_command(ref), params, **kw)


@pytest.fixture
def executor() -> Iterator[CommandExecutor]:
    executor = CommandExecutor(workers=2)
    yield executor
    executor.shutdown(cancel_running=True)


SHELL_SCRIPT = """#!/bin/sh
# a training script in shell: params as arguments, env vars and a JSON file
echo "training with eta=$1 depth=$2 (env: $TUNER_PARAM_ETA, $TUNER_PARAM_MAX_DEPTH)"
echo '{"step": 0, "auc": 0.5}'
echo '{"step": 1, "auc": 0.75}'
echo "some log line {not json"
cat "$TUNER_PARAMS_FILE" > params_seen.json
echo "{\\"auc\\": $1, \\"depth\\": $TUNER_PARAM_MAX_DEPTH}"
"""


def test_shell_script_gets_params_three_ways(executor: CommandExecutor, tmp_path: Path) -> None:
    script = tmp_path / "train.sh"
    script.write_text(SHELL_SCRIPT)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    job = command_job(
        "./train.sh {eta} {max_depth}",
        {"eta": 0.25, "max_depth": 4},
        metric="auc",
        workdir=str(tmp_path),
    )
    outcome = outcome_of(executor.submit(job))
    assert outcome.state is TrialState.COMPLETE, outcome.error
    assert outcome.value == 0.25 and outcome.values == {"auc": 0.25, "depth": 4.0}
    assert outcome.intermediate == ((0, 0.5), (1, 0.75))
    assert (tmp_path / "params_seen.json").read_text() == '{"eta": 0.25, "max_depth": 4}'


def test_result_file_wins_over_stdout(executor: CommandExecutor, tmp_path: Path) -> None:
    command = 'echo \'{"loss": 9}\'; echo "{\\"loss\\": $TUNER_PARAM_X}" > "$TUNER_RESULT_FILE"'
    outcome = outcome_of(executor.submit(command_job(command, {"x": 1.5}, metric="loss")))
    assert outcome.state is TrialState.COMPLETE, outcome.error
    assert outcome.value == 1.5


def test_values_are_shell_quoted(executor: CommandExecutor, tmp_path: Path) -> None:
    params = {"name": "a b; rm -rf /", "flag": True}
    assert command_line("echo {name} {flag}", params) == "echo 'a b; rm -rf /' true"
    assert param_env({"max-depth": 3, "eta": 0.1}) == {
        "TUNER_PARAM_MAX_DEPTH": "3",
        "TUNER_PARAM_ETA": "0.1",
    }
    command = 'printf \'{"n": %s}\\n\' "$(printf %s {name} | wc -c)"'
    outcome = outcome_of(executor.submit(command_job(command, params, metric="n")))
    assert outcome.value == len("a b; rm -rf /"), outcome.error


def test_failure_keeps_the_last_lines(executor: CommandExecutor) -> None:
    command = "for i in $(seq 1 50); do echo out$i; done; echo 'boom: bad data' >&2; exit 4"
    outcome = outcome_of(executor.submit(command_job(command)))
    assert outcome.state is TrialState.FAILED and outcome.error is not None
    assert outcome.error.startswith("command exited with code 4")
    assert "out50" in outcome.error and "out1\n" not in outcome.error  # only the tail
    assert "boom: bad data" in outcome.error


def test_no_result_fails_with_a_hint(executor: CommandExecutor) -> None:
    outcome = outcome_of(executor.submit(command_job("echo done")))
    assert outcome.state is TrialState.FAILED and outcome.error is not None
    assert "printed neither a number last nor a JSON object" in outcome.error
    assert "done" in outcome.error


def test_a_number_printed_last_is_the_value(executor: CommandExecutor) -> None:
    outcome = outcome_of(executor.submit(command_job("echo epoch 1; echo 0.25")))
    assert outcome.state is TrialState.COMPLETE and outcome.value == 0.25


def test_command_not_found_fails(executor: CommandExecutor) -> None:
    outcome = outcome_of(executor.submit(command_job("no-such-program-xyz --x 1")))
    assert outcome.state is TrialState.FAILED and outcome.error is not None
    assert "code 127" in outcome.error and "not found" in outcome.error


def test_found_by_name_and_options() -> None:
    assert plugins.executor("command") is CommandExecutor
    with pytest.raises(SpecError) as info:
        CommandExecutor.check_options({"workers": 0})
    assert info.value.field == "workers"


def _command_spec(command: str, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "objective": {"command": command},
        "executor": {"type": "command", "workers": 2},
        **overrides,
    }
    return spec_dict(**fields)


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        (_command_spec("python3 train.py --x {x} --y {y}"), "objective.command", "{y}"),
        (_command_spec("no-such-program-xyz {x}"), "objective.command", "not found"),
        (_command_spec("./missing.sh {x}"), "objective.command", "not found"),
        (spec_dict(objective={"command": "python3 t.py {x}"}), "objective", "cannot run"),
        (
            _command_spec("python3 t.py", objective={"function": "tests.objectives:quadratic"}),
            "objective",
            "cannot run",
        ),
        (
            _command_spec("x", objective={"command": "echo", "function": "a:b"}),
            "objective",
            "exactly one",
        ),
    ],
)
def test_spec_errors(spec: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        runnable(spec)
    assert info.value.field == field and words in info.value.reason, str(info.value)


def test_spec_round_trips() -> None:
    spec = StudySpec.from_dict(_command_spec("python3 train.py --x {x} --n {n}"))
    assert spec.objective == ObjectiveSpec(command="python3 train.py --x {x} --n {n}")
    assert StudySpec.from_dict(spec.to_dict()) == spec
