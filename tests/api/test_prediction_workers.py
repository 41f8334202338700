"""The parent's relay of repository calls between the workers of ``serve-models --workers N``
(``workers.relay``), on in-process queues: a call reaches every worker but its sender, the
sender hears every other worker's outcome, and a worker that died is answered for. (A real
server with two workers: ``test_prediction_repository``.)"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tuner.api.prediction.workers import relay


@contextmanager
def relaying(n: int, alive: Callable[[int], bool] = lambda i: True) -> Iterator[Any]:
    to_parent: queue.Queue[Any] = queue.Queue()
    to_workers: list[queue.Queue[Any]] = [queue.Queue() for _ in range(n)]
    stop = threading.Event()
    thread = threading.Thread(target=relay, args=(to_parent, to_workers, stop, alive))
    thread.start()
    try:
        yield to_parent, to_workers
    finally:
        stop.set()
        thread.join(timeout=5)


def test_a_call_reaches_every_other_worker_and_their_outcomes_reach_the_sender() -> None:
    with relaying(3) as (to_parent, to_workers):
        to_parent.put(("call", "1:0", 1, "load", "churn:2"))
        for i in (0, 2):
            assert to_workers[i].get(timeout=5) == ("apply", "1:0", "load", "churn:2")
        assert to_workers[1].empty()  # the sender made it itself
        to_parent.put(("result", "1:0", 0, "swapped"))
        to_parent.put(("result", "1:0", 2, "refused: checksum"))
        assert to_workers[1].get(timeout=5) == (
            "done",
            "1:0",
            {0: "swapped", 2: "refused: checksum"},
        )


def test_a_worker_that_died_is_answered_for() -> None:
    with relaying(3, alive=lambda i: i != 2) as (to_parent, to_workers):
        to_parent.put(("call", "0:0", 0, "unload", "fraud"))
        assert to_workers[1].get(timeout=5)[0] == "apply"
        to_parent.put(("result", "0:0", 1, "unloaded"))
        done = to_workers[0].get(timeout=5)
        assert done == ("done", "0:0", {1: "unloaded", 2: "failed: the worker is gone"})
