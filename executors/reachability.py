"""Whether a cluster address answers, found out within seconds and without starting anything."""

from __future__ import annotations

import os
import socket
from pathlib import Path

_TIMEOUT = 3.0  # seconds for one TCP connection attempt


def tcp_reachable(host: str, port: int) -> str | None:
    """None if ``host:port`` accepts a TCP connection, else the reason it does not."""
    try:
        with socket.create_connection((host, port), timeout=_TIMEOUT):
            return None
    except OSError as exc:
        return f"{host}:{port} does not answer ({exc.strerror or exc})"


def _host_port(text: str, default_port: int) -> tuple[str, int] | str:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", str(default_port))
    host = host.strip("[]") or "127.0.0.1"
    try:
        return host, int(port)
    except ValueError:
        return f"{text!r} has no valid port"


def ray_address_reachable(address: str) -> str | None:
    """``auto`` needs a cluster started on this host (``ray start``); an address must answer."""
    if address == "auto":
        address = os.environ.get("RAY_ADDRESS", "")
        if not address:
            current = Path("/tmp/ray/ray_current_cluster")
            if not current.exists():
                return (
                    "'auto' found no running Ray cluster on this host (start one with "
                    "'ray start --head', or omit address for a local Ray)"
                )
            address = current.read_text().strip()
    target = address.removeprefix("ray://")
    parsed = _host_port(target, 10001 if address.startswith("ray://") else 6379)
    if isinstance(parsed, str):
        return parsed
    return tcp_reachable(*parsed)


def spark_master_reachable(master: str) -> str | None:
    """``local[...]`` is always there; ``spark://``, ``mesos://`` and ``k8s://`` URLs must answer
    (every host of a ``spark://a:7077,b:7077`` list is tried); ``yarn`` is left to Spark."""
    if master == "local" or master.startswith("local[") or master.startswith("local-cluster["):
        return None
    if master == "yarn":
        return None
    for scheme, port in (
        ("spark://", 7077),
        ("mesos://", 5050),
        ("k8s://https://", 443),
        ("k8s://http://", 80),
        ("k8s://", 443),
    ):
        if master.startswith(scheme):
            reasons = []
            for host_port in master[len(scheme) :].split("/")[0].split(","):
                parsed = _host_port(host_port, port)
                reason = parsed if isinstance(parsed, str) else tcp_reachable(*parsed)
                if reason is None:
                    return None
                reasons.append(reason)
            return "; ".join(reasons)
    return f"{master!r} is not a Spark master URL (local[N], spark://host:port, yarn, k8s://...)"
