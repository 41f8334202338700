"""Who may run what on a server: every refusal of the operator's run policy names its field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.specs import spec_dict
from tuner.errors import Forbidden
from tuner.run_policy import RunPolicy
from tuner.study import StudySpec

FUNCTIONS = RunPolicy(enabled=True, functions=("tests",))


def spec(**overrides: Any) -> StudySpec:
    return StudySpec.from_dict(spec_dict(**overrides), check=False)


def refused(policy: RunPolicy, study: StudySpec) -> Forbidden:
    with pytest.raises(Forbidden) as info:
        policy.check(study)
    return info.value


def test_server_side_runs_are_off_unless_the_operator_enables_them() -> None:
    error = refused(RunPolicy(), spec())
    assert "--allow-runs" in str(error) and "remote workers need no permission" in str(error)


def test_functions_only_under_the_allowed_module_prefixes() -> None:
    FUNCTIONS.check(spec())  # tests.objectives:quadratic
    for ref in ("os:system", "testsuite.x:f", "subprocess:run"):
        error = refused(FUNCTIONS, spec(objective={"function": ref}))
        assert error.field == "objective.function" and "--allow-function" in str(error)
    # an attribute path could reach anything the allowed module imported
    error = refused(FUNCTIONS, spec(objective={"function": "tests.objectives:os.system"}))
    assert error.field == "objective.function" and "attribute path" in str(error)


@pytest.mark.parametrize(
    "command",
    [
        "rm -rf {x}",
        "python3 t.py; rm -rf /",
        "python3 t.py && curl x",
        "python3 t.py | sh",
        "python3 $(echo t.py)",
        "python3 `id`",
        "python3 t.py > /etc/x",
        "LD_PRELOAD=x.so python3 t.py",
        "python3 t.py\nrm -rf /",
        "python3 *.py",
    ],
)
def test_commands_only_of_allowed_programs_and_without_shell_syntax(command: str) -> None:
    policy = RunPolicy(enabled=True, commands=("python3",))
    error = refused(policy, spec(objective={"command": command}, executor="command"))
    assert error.field == "objective.command"


def test_an_allowed_program_by_name_or_path_with_placeholders_runs() -> None:
    for allowed, command in (
        ("python3", "python3 train.py --x {x} --n {n}"),
        ("/opt/t/run.sh", "/opt/t/run.sh {x} '{kind}'"),
    ):
        RunPolicy(enabled=True, commands=(allowed,)).check(
            spec(objective={"command": command}, executor="command")
        )


def test_trainers_only_on_data_under_allowed_folders_and_known_estimators(tmp_path: Path) -> None:
    data = tmp_path / "ok" / "train.csv"
    policy = RunPolicy(enabled=True, data=(str(tmp_path / "ok"),))
    xgb = {"trainer": "xgboost", "data": str(data), "label": "y"}
    policy.check(spec(objective=xgb))
    for path in ("/etc/passwd", str(tmp_path / "ok" / ".." / "secret.csv"), str(tmp_path)):
        error = refused(policy, spec(objective={**xgb, "data": path}))
        assert error.field == "objective.data" and "--allow-data" in str(error)
    sk = {"trainer": "sklearn", "data": str(data), "label": "y"}
    policy.check(spec(objective={**sk, "estimator": "sklearn.svm.SVC"}))
    error = refused(policy, spec(objective={**sk, "estimator": "subprocess.Popen"}))
    assert error.field == "objective.estimator"


def test_only_allowed_executors_and_none_of_their_reaching_options() -> None:
    error = refused(FUNCTIONS, spec(executor={"type": "ray"}))
    assert error.field == "executor.type" and "--allow-executor" in str(error)
    ray_allowed = RunPolicy(enabled=True, functions=("tests",), executors=("ray",))
    ray_allowed.check(spec(executor={"type": "ray", "workers": 2}))
    error = refused(ray_allowed, spec(executor={"type": "ray", "address": "10.0.0.9:6379"}))
    assert error.field == "executor.address"
    shell = RunPolicy(enabled=True, commands=("python3",))
    error = refused(
        shell,
        spec(
            objective={"command": "python3 t.py"},
            executor={"type": "command", "shell": "/usr/bin/python3"},
        ),
    )
    assert error.field == "executor.shell"
