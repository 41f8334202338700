"""Kills the process groups of a runner's trials once the runner is gone, even by SIGKILL.

A trial of the command executor runs in a session of its own, so nothing ties it to the runner:
killed outright, a runner would leave its trials running (and their results unwanted, since the
trials are run again elsewhere). The executor starts this watchdog once and tells it, on its
stdin, ``+PGID`` when a trial's process group starts and ``-PGID`` when it has ended. When stdin
reaches its end without ``exit`` (the runner died: its end of the pipe closed with it), every
group still listed is killed.

It is run by path with ``python -I -S`` (standard library only, no site: it starts in ~15 ms),
in a session of its own so that a Ctrl-C meant for the runner's terminal does not reach it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    groups: set[int] = set()
    for line in sys.stdin:
        word = line.strip()
        if word == "exit":
            return
        if word[:1] in "+-" and word[1:].isdigit():
            (groups.add if word[0] == "+" else groups.discard)(int(word[1:]))
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class GroupWatchdog:
    """The runner's side: ``watch(pgid)`` / ``unwatch(pgid)`` around a trial, ``close()`` last.

    If the watchdog cannot be started or has died, trials still run, unwatched."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None

    def watch(self, pgid: int) -> None:
        self._send(f"+{pgid}", start=True)

    def unwatch(self, pgid: int) -> None:
        self._send(f"-{pgid}")

    def close(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            try:
                assert process.stdin is not None
                process.stdin.write("exit\n")
                process.stdin.close()
            except OSError:
                pass
            process.wait(timeout=10)

    def _send(self, message: str, start: bool = False) -> None:
        with self._lock:
            if self._process is None and start:
                self._process = subprocess.Popen(
                    [sys.executable, "-I", "-S", __file__],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    start_new_session=True,
                )
            if self._process is None or self._process.stdin is None:
                return
            try:
                self._process.stdin.write(message + "\n")
                self._process.stdin.flush()
            except OSError:  # the watchdog died: go on unwatched
                self._process = None


if __name__ == "__main__":
    main()
