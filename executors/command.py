"""The command executor: any program in any language, one process group per trial.

Params reach the program three ways: ``{name}`` placeholders in the command line (shell-quoted),
``TUNER_PARAM_<NAME>`` environment variables, and a JSON file named by ``TUNER_PARAMS_FILE``. The
result is the JSON written to ``TUNER_RESULT_FILE``, else the last JSON object printed on stdout,
else the last line printed if it is a number; lines like ``{"step": 3, "auc": 0.91}`` are
intermediate values, heard while the command runs; when the study's pruner asks the trial to stop
early, the file named by ``TUNER_STOP_FILE`` appears: the program may then exit (with or without a
result), and the trial ends ``pruned``. A round's resource (what a trial may spend: boosting
rounds, epochs) is ``TUNER_RESOURCE``. The last lines of stdout and
stderr go into the error of a failed attempt, so the user sees why it failed.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shlex
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from typing import IO, Any

from tuner.errors import ObjectiveError, SpecError
from tuner.executor import StopListener, TrialJob, TrialOutcome
from tuner.executors.group_watchdog import GroupWatchdog
from tuner.executors.pool import PooledExecutor, check_positive_int
from tuner.executors.trial_process import exit_reason, kill_group
from tuner.objective import interpret, saved_artifact
from tuner.objective_spec import PLACEHOLDER
from tuner.space import Params
from tuner.trial import TrialState

_TAIL = 20  # lines of stdout and stderr kept for the error text
_CANCELLED = "cancelled: the executor shut down"


class CommandExecutor(PooledExecutor):
    """Runs up to ``workers`` command objectives at once, each in a new session (process group)."""

    name = "command"
    objectives = frozenset({"command"})

    def __init__(self, *, workers: int | None = None, shell: str = "/bin/sh") -> None:
        self.check_options({"workers": workers, "shell": shell})
        self._start_pool(workers if workers is not None else os.cpu_count() or 1, "command")
        self._shell = shell
        self._running: set[subprocess.Popen[bytes]] = set()
        self._watchdog = GroupWatchdog()  # kills the trials if this process is killed outright

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        super().check_options(options)
        check_positive_int(options, "workers")
        shell = options.get("shell", "/bin/sh")
        if not isinstance(shell, str) or not os.access(shell, os.X_OK):
            raise SpecError("shell", f"{shell!r} is not an executable shell")

    def _cancel_running(self) -> None:
        with self._lock:
            running = list(self._running)
        for process in running:
            kill_group(process.pid)

    def _close(self) -> None:
        self._watchdog.close()

    def _run(self, job: TrialJob, listener: StopListener | None) -> TrialOutcome:
        try:
            with tempfile.TemporaryDirectory(prefix="tuner-trial-") as tmp:
                return self._run_in(job, tmp, listener)
        except Exception as exc:  # noqa: BLE001 - the future must hold an outcome
            return TrialOutcome.failure(f"cannot run the command: {type(exc).__name__}: {exc}")

    def _run_in(self, job: TrialJob, tmp: str, listener: StopListener | None) -> TrialOutcome:
        if job.objective.command is None:
            return TrialOutcome.failure("the command executor runs command objectives only")
        command = command_line(job.objective.command, job.params)
        params_file, result_file = os.path.join(tmp, "params.json"), os.path.join(tmp, "result")
        with open(params_file, "w") as f:
            json.dump(job.params, f)
        stop_file = os.path.join(tmp, "stop")
        env = {
            **os.environ,
            **param_env(job.params),
            "TUNER_PARAMS_FILE": params_file,
            "TUNER_RESULT_FILE": result_file,
            "TUNER_STOP_FILE": stop_file,
            "TUNER_STUDY": job.study,
            "TUNER_TRIAL_NUMBER": str(job.number),
            "TUNER_TRIAL_ATTEMPT": str(job.attempt),
        }
        if job.metric:
            env["TUNER_METRIC"] = job.metric
        if job.artifact_dir:
            env["TUNER_ARTIFACT_DIR"] = job.artifact_dir
        if job.resource is not None:
            env["TUNER_RESOURCE"] = str(job.resource)
        if job.prunes:
            env["TUNER_PRUNES"] = "1"  # the study has a pruner: reports may stop the trial
        with self._lock:
            if self._cancelling:
                return TrialOutcome.failure(_CANCELLED)
            process = subprocess.Popen(
                [self._shell, "-c", command],
                cwd=job.workdir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            self._running.add(process)
        self._watchdog.watch(process.pid)
        out = _Reader(process.stdout, job.metric, _stop_by_file(listener, stop_file))
        err = _Reader(process.stderr, None)
        try:
            process.wait(job.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            kill_group(process.pid)  # the trial's grandchildren end with it, whatever happened
            process.wait()
            self._watchdog.unwatch(process.pid)
            out.join()
            err.join()
            with self._lock:
                self._running.discard(process)
        steps = tuple(out.steps)
        if self._cancelling:
            return TrialOutcome.failure(_CANCELLED + _tails(out, err), steps)
        if timed_out:
            return TrialOutcome.failure(
                f"timed out after {float(job.timeout or 0)} s" + _tails(out, err), steps
            )
        if process.returncode != 0:
            return TrialOutcome.failure(
                exit_reason(process.returncode, "command") + _tails(out, err), steps
            )
        if os.path.exists(stop_file) and not _has_result(result_file, out):
            # told to stop ($TUNER_STOP_FILE appeared), it exited without a result: pruned
            return TrialOutcome(TrialState.PRUNED, intermediate=steps)
        try:
            result = _result(result_file, out.result, out.last)
            value, values = interpret(result, job.metric)
        except ObjectiveError as exc:
            return TrialOutcome.failure(str(exc) + _tails(out, err), steps)
        return TrialOutcome(
            TrialState.COMPLETE,
            value=value,
            values=values,
            intermediate=steps,
            artifact=saved_artifact(job.artifact_dir),
        )


def command_line(template: str, params: Params) -> str:
    """``template`` with each ``{name}`` replaced by the shell-quoted value (``''`` when the
    parameter is inactive); other braces, as in JSON or ``${VAR}``, stay as they are."""
    return PLACEHOLDER.sub(lambda m: shlex.quote(_text(params.get(m.group(1), ""))), template)


def param_env(params: Params) -> dict[str, str]:
    """``TUNER_PARAM_<NAME>`` for each parameter (upper case, other characters as ``_``)."""
    return {"TUNER_PARAM_" + re.sub(r"\W", "_", k).upper(): _text(v) for k, v in params.items()}


def _text(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value)


class _Reader:
    """Drains one stream of the command in a thread: its last lines, step lines, the result."""

    def __init__(
        self, stream: IO[bytes] | None, metric: str | None, listener: StopListener | None = None
    ) -> None:
        self.tail: collections.deque[str] = collections.deque(maxlen=_TAIL)
        self._listener = listener
        self.steps: list[tuple[int, float]] = []
        self.result: object = None
        self.last: str = ""  # the last line that is not empty
        self._metric = metric
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join(5.0)

    def _read(self, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        with stream:
            for raw in stream:
                line = raw.decode(errors="replace").rstrip("\r\n")
                self.tail.append(line)
                if line.strip():
                    self.last = line.strip()
                if line.lstrip().startswith("{"):
                    self._json_line(line)

    def _json_line(self, line: str) -> None:
        try:
            obj = json.loads(line)
        except ValueError:
            return
        if not isinstance(obj, dict):
            return
        if "step" not in obj:
            self.result = obj
            return
        rest = {k: v for k, v in obj.items() if k != "step"}
        value = (
            rest.get(self._metric)
            if self._metric in rest
            else (next(iter(rest.values())) if len(rest) == 1 else None)
        )
        if isinstance(obj["step"], int) and isinstance(value, int | float):
            self.steps.append((obj["step"], float(value)))
            if self._listener is not None:
                self._listener(obj["step"], float(value))


def _has_result(result_file: str, out: _Reader) -> bool:
    """Whether the command left a result (a result file, a JSON object or a number last)."""
    if os.path.exists(result_file) and os.path.getsize(result_file) > 0:
        return True
    if out.result is not None:
        return True
    try:
        float(out.last)
    except ValueError:
        return False
    return True


def _result(result_file: str, printed: object, last: str) -> object:
    """The JSON in ``$TUNER_RESULT_FILE``, else the last JSON object printed, else the last
    line printed if it is a number."""
    if os.path.exists(result_file) and os.path.getsize(result_file) > 0:
        with open(result_file) as f:
            text = f.read()
        try:
            return json.loads(text)
        except ValueError:
            raise ObjectiveError(f"$TUNER_RESULT_FILE holds no JSON: {text[:80]!r}") from None
    if printed is None:
        try:
            return float(last)
        except ValueError:
            raise ObjectiveError(
                "the command printed neither a number last nor a JSON object "
                '(such as {"auc": 0.93}) on stdout, and wrote nothing to '
                "$TUNER_RESULT_FILE"
            ) from None
    return printed


def _stop_by_file(listener: StopListener | None, stop_file: str) -> StopListener | None:
    """A listener that, when ``listener`` answers stop, creates ``$TUNER_STOP_FILE``: how a
    command line learns it should stop early (it checks whether the file exists)."""
    if listener is None:
        return None

    def hear(step: int, value: float) -> bool:
        stop = listener(step, value)
        if stop and not os.path.exists(stop_file):
            with open(stop_file, "w"):
                pass
        return stop

    return hear


def _tails(out: _Reader, err: _Reader) -> str:
    text = ""
    for name, reader in (("stdout", out), ("stderr", err)):
        if reader.tail:
            text += f"\n--- last lines of {name} ---\n" + "\n".join(reader.tail)
    return text
