"""Runs a Python objective ``module:function`` as a command objective does its work.

``python -m tuner.testing.command_adapter module:function``: params from ``$TUNER_PARAMS_FILE``,
intermediate values printed as ``{"step": s, "<metric>": v}`` lines, ``should_prune()`` true once
``$TUNER_STOP_FILE`` exists, the result printed as the last JSON object on stdout; an exception
goes to stderr with exit status 1. This lets the command executor (or any executor of command
lines) run the very objectives of the conformance suite (``adapter_command``).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any


class _Trial:
    def __init__(self, params: dict[str, Any]) -> None:
        self.study = os.environ["TUNER_STUDY"]
        self.number = int(os.environ["TUNER_TRIAL_NUMBER"])
        self.attempt = int(os.environ["TUNER_TRIAL_ATTEMPT"])
        self.params = params
        self.artifact_dir = os.environ.get("TUNER_ARTIFACT_DIR")
        resource = os.environ.get("TUNER_RESOURCE")
        self.resource = int(resource) if resource else None
        self.prunes = os.environ.get("TUNER_PRUNES") == "1"
        self.key = os.environ.get("TUNER_METRIC", "value")

    def report(self, step: int, value: float) -> None:
        print(json.dumps({"step": step, self.key: value}), flush=True)

    def should_prune(self) -> bool:
        stop = os.environ.get("TUNER_STOP_FILE")
        return bool(stop) and os.path.exists(stop)  # type: ignore[arg-type]


def adapter_command(ref: str) -> str:
    """The command line that runs the Python objective ``ref`` through this adapter."""
    import shlex

    return f"{shlex.quote(sys.executable)} -m tuner.testing.command_adapter {shlex.quote(ref)}"


def main(ref: str) -> int:
    from tuner.objective import load_function, takes_context

    with open(os.environ["TUNER_PARAMS_FILE"]) as f:
        params = json.load(f)
    trial = _Trial(params)
    try:
        fn = load_function(ref, (os.getcwd(),))
        result = fn(params, trial) if takes_context(fn) else fn(params)
    except Exception as exc:  # noqa: BLE001 - a user's objective may raise anything
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        traceback.print_exc()
        return 1
    if not isinstance(result, dict):
        result = {trial.key: result}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
