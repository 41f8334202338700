"""A TCP proxy that can cut every connection through it at once (or at random moments): how a
test drops the connections between servers and their database."""

from __future__ import annotations

import random
import socket
import threading


class CuttingProxy:
    """Forwards ``127.0.0.1:port`` to ``target``; ``cut()`` closes every open connection
    (both ends), ``cut_at_random(every, stop)`` keeps doing so at random intervals."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.cuts = 0
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)  # an idle connection stays (a LISTEN, a pool's)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                self._drop(s)

    def _drop(self, s: socket.socket) -> None:
        with self._lock:
            self._open.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def cut(self) -> int:
        """Close every connection open now; how many."""
        with self._lock:
            victims = list(self._open)
        for s in victims:
            self._drop(s)
        if victims:
            self.cuts += 1
        return len(victims)

    def cut_at_random(
        self, mean_interval: float, stop: threading.Event, rng: random.Random | None = None
    ) -> None:
        rng = rng or random.Random(0)
        while not stop.wait(rng.expovariate(1.0 / mean_interval)):
            self.cut()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        self.cut()
