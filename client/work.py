"""The worker loop (claim, evaluate, report) and running it in threads or processes."""

from __future__ import annotations

import inspect
import pickle
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuner.client.http import TrialLost, TunerAPIError
from tuner.client.trial import StudyComplete, StudyStopped, Trial, is_pruned

if TYPE_CHECKING:
    from tuner.client.study import Objective, Study


class WorkersFailed(RuntimeError):
    """Workers of ``optimize`` could not start or died; ``reasons`` says why for each."""

    def __init__(self, reasons: list[str], done: int) -> None:
        self.reasons = reasons
        self.done = done
        super().__init__(
            f"{len(reasons)} worker(s) failed ({done} trials done here): " + "; ".join(reasons)
        )


def optimize(
    study: Study, fn: Objective, n_trials: int | None, workers: int, processes: bool
) -> int:
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, not {workers!r}")
    client = study.client
    server = Server(client.url, client.token, client.verify)
    if workers == 1 and not processes:
        return work(server, study.name, fn, n_trials, None)
    if processes:
        return _in_processes(server, study.name, fn, workers, n_trials)
    return _in_threads(server, study.name, fn, workers, _Budget(n_trials))


@dataclass(frozen=True)
class Server:
    """How a worker reaches the server (picklable, for worker processes)."""

    url: str
    token: str | None
    verify: bool | str = True


def work(
    server: Server,
    study: str,
    fn: Objective,
    n_trials: int | None,
    claim_slot: Callable[[], bool] | None,
    stop: threading.Event | None = None,
) -> int:
    """Claim, evaluate, report, until the study is done or stopped or the budget spent."""
    from tuner.client.study import Study
    from tuner.client.tuner_client import TunerClient

    takes_trial = _takes_trial(fn)
    done = 0
    with TunerClient(server.url, server.token, verify=server.verify) as client:
        handle = Study(client, study)
        upcoming: Trial | None = None
        reserved = False  # a budget slot taken for a next trial that did not come
        while (n_trials is None or done < n_trials) and not (stop and stop.is_set()):
            if upcoming is None and not reserved and claim_slot is not None and not claim_slot():
                break
            reserved = False
            try:
                trial = upcoming or handle.next_trial()
            except (StudyComplete, StudyStopped):
                break
            upcoming = None
            with trial:
                try:
                    result = fn(trial.params, trial) if takes_trial else fn(trial.params)
                except Exception as exc:  # noqa: BLE001 - a failed attempt, the loop goes on
                    if is_pruned(exc):
                        trial.prune()
                    else:
                        trial.fail(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"[-8000:])
                else:
                    if result is None and trial.should_prune():  # told to stop, it returned
                        trial.prune()
                        done += 1
                        continue
                    last = n_trials is not None and done + 1 >= n_trials
                    more = not last and (claim_slot is None or claim_slot())
                    try:
                        if more:  # one round trip: this result, and the next trial
                            upcoming = trial.complete_and_next(result)
                        else:
                            trial.complete(result)
                    except (StudyComplete, StudyStopped):
                        done += 1
                        break
                    except TrialLost:
                        reserved = more
                    except TunerAPIError as exc:
                        if exc.code != "objective_error":
                            raise
                        # the server cannot use what the objective returned (no value for the
                        # study's metric, say): the attempt fails with the reason, work goes on
                        trial.fail(exc.message)
                        reserved = more
            done += 1
    return done


class _Budget:
    """Trials left to start, shared by the workers (None: no limit)."""

    def __init__(self, n: int | None) -> None:
        self.left = n
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left is None:
                return True
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def _in_threads(server: Server, study: str, fn: Objective, workers: int, budget: _Budget) -> int:
    stop = threading.Event()
    counts: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def body() -> None:
        try:
            n = work(server, study, fn, None, budget.take, stop)
            with lock:
                counts.append(n)
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread below
            stop.set()  # the others end after their current trial
            with lock:
                errors.append(exc)

    threads = [
        threading.Thread(target=body, name=f"tuner-worker-{i}", daemon=True) for i in range(workers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return sum(counts)


def _in_processes(
    server: Server, study: str, fn: Objective, workers: int, n_trials: int | None
) -> int:
    import multiprocessing as mp

    try:
        pickle.dumps(fn)
    except Exception as exc:  # a lambda, a nested function, a bound method of a local object
        raise TypeError(
            f"optimize(processes=True) sends the objective to other processes, and "
            f"{fn!r} cannot be sent ({exc}): define it at module level, or use "
            "threads (the default)"
        ) from None
    ctx = mp.get_context("spawn")
    budget = ctx.Value("i", n_trials if n_trials is not None else -1)
    started = []
    for i in range(workers):
        receiver, sender = ctx.Pipe(duplex=False)
        process = ctx.Process(
            target=_process_main,
            args=(server, study, fn, budget, sender),
            name=f"tuner-worker-{i}",
        )
        process.start()
        sender.close()
        started.append((process, receiver))
    done, reasons = 0, []
    for process, receiver in started:
        process.join()
        try:
            count, error = receiver.recv() if receiver.poll() else (0, None)
        except EOFError:  # the worker died before it could say anything
            count, error = 0, None
        receiver.close()
        done += count
        if error:
            reasons.append(f"worker {process.pid}: {error}")
        elif process.exitcode != 0:
            reasons.append(f"worker {process.pid} {_exit_reason(process.exitcode)}")
    if reasons:
        raise WorkersFailed(reasons, done)
    return done


def _process_main(server: Server, study: str, fn: Objective, budget: Any, results: Any) -> None:
    def claim_slot() -> bool:
        with budget.get_lock():
            if budget.value == 0:
                return False
            if budget.value > 0:
                budget.value -= 1
            return True

    try:
        count = work(server, study, fn, None, claim_slot)
    except TunerAPIError as exc:
        results.send((0, str(exc)))
        return
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        results.send((0, f"{type(exc).__name__}: {exc}"))
        return
    results.send((count, None))


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        import signal

        return f"was killed by signal {signal.Signals(-code).name}"
    return (
        f"exited with code {code} before it started its work: a script that calls "
        "optimize(processes=True) runs again in each worker process, so its code must be "
        'guarded by `if __name__ == "__main__":` (its output above says what failed)'
    )


def _takes_trial(fn: Objective) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2
