"""An open-loop HTTP load generator for the serving benchmark, run in its own process.

Requests are due at fixed times (``rate`` per second); each one's latency runs from when it was
due, not from when it was sent, so a stalled server's queue counts in full (no coordinated
omission). Requests go over ``connections`` keep-alive connections, request i on connection
i mod n; a connection still busy delays the next request due on it, and that delay is counted.
Plain asyncio streams and a hand-written HTTP/1.1 request keep the generator's own cost low.

    python -m experiments.serving_load URL BODY.json --rate 1000 --seconds 5 --connections 32
    python -m experiments.serving_load URL BODY.json --closed --connections 4 --seconds 5

prints one JSON object: sent, ok, failed, latency percentiles (ms), achieved rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> int:
    writer.write(head + body)
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def run(
    url: str, body: bytes, rate: float, seconds: float, connections: int, closed: bool
) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    failures: list[str] = []
    start = time.perf_counter() + 0.2
    end = start + seconds
    total = int(rate * seconds) if not closed else 0

    async def connection(index: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        i = index
        try:
            while True:
                if closed:
                    due = time.perf_counter()
                    if due >= end:
                        return
                else:
                    if i >= total:
                        return
                    due = start + i / rate
                    wait = due - time.perf_counter()
                    if wait > 0:
                        await asyncio.sleep(wait)
                try:
                    status = await _request(reader, writer, head, body)
                except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                    failures.append(repr(exc))
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    i += connections
                    continue
                done = time.perf_counter()
                if status == 200:
                    latencies.append(done - max(due, start))
                else:
                    failures.append(f"HTTP {status}")
                i += connections
        finally:
            writer.close()

    await asyncio.gather(*(connection(c) for c in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float | None:
        if not latencies:
            return None
        return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 3)

    return {
        "rate": rate if not closed else None,
        "seconds": round(elapsed, 2),
        "ok": len(latencies),
        "failed": len(failures),
        "failures": failures[:5],
        "achieved": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": round(1000 * latencies[-1], 3) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("body", help="a file holding the JSON body")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--closed", action="store_true", help="closed loop: as fast as answered")
    args = parser.parse_args()
    body = open(args.body, "rb").read()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(
        run(args.url, body, args.rate, args.seconds, args.connections, args.closed)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
