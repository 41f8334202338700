"""The workers of one ``serve-models --workers N``: a model repository call (load, unload) that
reaches one worker (the kernel hands each connection to one) is made on every one.

Alias moves reach every worker by themselves (each pulls and listens), but a repository call is
made to the server, and the server is N processes. So the worker that gets the call tells the
parent process, which relays it to every other worker; each makes it through its own
``ServedModels`` (the same load, check, warm and swap as an alias move) and reports its outcome
back; the parent hands the outcomes to the first worker, which answers the caller once every
worker has made the change (or said why not). The parent holds no model and no state but the
calls in flight; it only relays, over ``multiprocessing`` queues.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuner.api.prediction.served import ServedModels, parse_served
from tuner.errors import NotFound, TunerError

log = logging.getLogger("tuner.serving")

LOAD = "load"
UNLOAD = "unload"
WAIT = 600.0  # seconds a call waits for the other workers: a load may take minutes


def apply(models: ServedModels, op: str, arg: str) -> str:
    """Make repository call ``op`` (``load`` a reference, ``unload`` a name) on ``models``:
    its outcome (``loaded``, ``swapped``, ``unchanged``, ``refused: why``, ``unloaded``) or
    what went wrong, never an exception (another worker is waiting for the answer)."""
    try:
        if op == LOAD:
            outcome = models.load(arg)
            if outcome == "refused":
                refusal = models.get(parse_served(arg)[0]).refused
                return f"refused: {refusal.reason if refusal else 'refused'}"
            return outcome
        models.remove(arg)
        return "unloaded"
    except NotFound as exc:
        return f"not found: {exc}"
    except TunerError as exc:
        return f"failed: {exc}"
    except Exception as exc:  # anything a bundle can do wrong
        log.exception("repository %s %s failed", op, arg)
        return f"failed: {type(exc).__name__}: {exc}"


@dataclass
class _Waiting:
    done: threading.Event = field(default_factory=threading.Event)
    outcomes: dict[int, str] = field(default_factory=dict)


class WorkerLink:
    """One worker's end: ``everywhere`` asks the others to make a call; a thread makes the
    calls the others ask of this one."""

    def __init__(self, index: int, to_parent: Any, from_parent: Any) -> None:
        self.index = index
        self.to_parent = to_parent
        self.from_parent = from_parent
        self._ids = itertools.count()
        self._waiting: dict[str, _Waiting] = {}
        self._lock = threading.Lock()

    def start(self, models: ServedModels, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(
            target=self._serve, args=(models, stop), daemon=True, name="workers"
        )
        thread.start()
        return thread

    def _serve(self, models: ServedModels, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                message = self.from_parent.get(timeout=0.5)
            except queue.Empty:
                continue
            except (EOFError, OSError):  # the parent is gone: the server is stopping
                return
            kind, call = message[0], message[1]
            if kind == "apply":
                op, arg = message[2], message[3]
                log.info("repository %s %s (asked by another worker)", op, arg)
                self.to_parent.put(("result", call, self.index, apply(models, op, arg)))
            elif kind == "done":
                with self._lock:
                    waiting = self._waiting.pop(call, None)
                if waiting is not None:
                    waiting.outcomes.update(message[2])
                    waiting.done.set()

    def ask(self, op: str, arg: str) -> _Waiting:
        """Ask every other worker to make ``op`` ``arg``; ``wait`` on the answer."""
        call = f"{self.index}:{next(self._ids)}"
        waiting = _Waiting()
        with self._lock:
            self._waiting[call] = waiting
        self.to_parent.put(("call", call, self.index, op, arg))
        return waiting

    def wait(self, waiting: _Waiting, timeout: float = WAIT) -> dict[int, str]:
        """The other workers' outcomes (a worker that did not answer in ``timeout``: said)."""
        if not waiting.done.wait(timeout):
            return {-1: f"failed: the other workers did not answer in {timeout:g} s"}
        return waiting.outcomes


def relay(
    to_parent: Any,
    to_workers: list[Any],
    stop: threading.Event,
    alive: Callable[[int], bool] = lambda index: True,
) -> None:
    """The parent's loop: hand each call to every worker but its sender, gather their
    outcomes, and hand them to the sender; a worker that died meanwhile (``alive``) is
    answered for, so that the sender does not wait for it."""
    pending: dict[str, tuple[int, dict[int, str]]] = {}
    while not stop.is_set():
        try:
            message = to_parent.get(timeout=0.5)
        except queue.Empty:
            message = None
        except (EOFError, OSError):
            return
        if message is not None and message[0] == "call":
            _, call, sender, op, arg = message
            pending[call] = (sender, {})
            for i in range(len(to_workers)):
                if i != sender:
                    to_workers[i].put(("apply", call, op, arg))
        elif message is not None and message[0] == "result":
            _, call, index, outcome = message
            if call in pending:
                pending[call][1][index] = outcome
        for call, (sender, outcomes) in list(pending.items()):
            for i in range(len(to_workers)):
                if i != sender and i not in outcomes and not alive(i):
                    outcomes[i] = "failed: the worker is gone"
            if len(outcomes) == len(to_workers) - 1:
                del pending[call]
                to_workers[sender].put(("done", call, outcomes))
