"""Sustained load: many concurrent workers against two replicas on one PostgreSQL, a study of
100,000 trials, side by side with Optuna's RDBStorage at the same concurrency.

    .venv/bin/python -m experiments.bench_load            # 64 clients, 10 minutes per side
    .venv/bin/python -m experiments.bench_load --quick    # 16 clients, 45 s per side

Tuner: ``--clients`` asyncio clients spread over a few processes, each looping claim ->
complete (two requests, timed apart) against the replicas in turn. Optuna: as many threads
spread over as many processes looping ask -> tell on RDBStorage on the same database. Reported:
trials per second, p50/p99 of claim and complete (ask and tell), each server's RSS over time,
and the database's size per trial. Writes experiments/results/bench_load.{json,md,png}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from tests.api.server import ServerProcess
from tests.conftest import POSTGRES_URL, drop_postgres_schema, postgres_schema_url

RESULTS = Path(__file__).resolve().parent / "results"
SPACE = {
    "x": {"type": "float", "low": -5.0, "high": 5.0},
    "y": {"type": "float", "low": -5.0, "high": 5.0},
}


def _value(params: dict[str, float]) -> float:
    return (params["x"] - 1) ** 2 + (params["y"] + 2) ** 2


# -- Tuner ------------------------------------------------------------------------------------


async def _tuner_clients(
    urls: list[str], token: str, study: str, clients: int, until: float
) -> dict[str, Any]:
    import httpx

    claims: list[float] = []
    completes: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def one(i: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        base = f"{urls[i % len(urls)]}/api/v1/studies/{study}/trials"
        while time.time() < until:
            t0 = time.perf_counter()
            try:
                r = await http.post(f"{base}/claim", json={"worker": f"load-{i}"})
            except httpx.TransportError:  # a dropped keep-alive connection: count it, go on
                errors += 1
                continue
            if r.status_code != 200:
                errors += 1
                await asyncio.sleep(0.1)
                continue
            claims.append(time.perf_counter() - t0)
            trial = r.json()["trial"]
            if trial is None:
                if r.json()["complete"]:
                    return
                await asyncio.sleep(r.json()["retry_after"])
                continue
            t1 = time.perf_counter()
            try:
                r = await http.post(
                    f"{base}/{trial['number']}/complete",
                    json={"attempt": trial["attempt"], "value": _value(trial["params"])},
                )
            except httpx.TransportError:  # the lease runs out and the trial is taken back
                errors += 1
                continue
            if r.status_code == 200:
                completes.append(time.perf_counter() - t1)
            else:
                errors += 1

    async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as http:
        await asyncio.gather(*(one(i, http) for i in range(clients)))
    return {"claims": claims, "completes": completes, "errors": errors}


def _tuner_process(
    urls: list[str], token: str, study: str, clients: int, until: float, out: Any
) -> None:
    out.put(asyncio.run(_tuner_clients(urls, token, study, clients, until)))


def run_tuner(
    db: str, folder: Path, clients: int, procs: int, seconds: float, trials: int
) -> dict[str, Any]:
    import httpx

    servers = [ServerProcess(db, folder, lease=60.0).start() for _ in range(2)]
    try:
        token = servers[0].token
        study = f"load-{uuid.uuid4().hex[:6]}"
        spec = {
            "name": study,
            "space": SPACE,
            "seed": 0,
            "plan": [{"algorithm": "random", "trials": trials}],
        }
        httpx.post(
            f"{servers[0].url}/api/v1/studies",
            json=spec,
            timeout=60,
            headers={"Authorization": f"Bearer {token}"},
        ).raise_for_status()
        rss: list[tuple[float, list[float]]] = []
        stop = threading.Event()
        start = time.time()

        def sample() -> None:
            while not stop.wait(5.0):
                rss.append((time.time() - start, [_rss(s.proc.pid) for s in servers]))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        until = time.time() + seconds
        workers = [
            ctx.Process(
                target=_tuner_process,
                args=([s.url for s in servers], token, study, clients // procs, until, out),
            )
            for _ in range(procs)
        ]
        for w in workers:
            w.start()
        parts = [out.get(timeout=seconds + 300) for _ in workers]
        for w in workers:
            w.join()
        elapsed = time.time() - start
        stop.set()
        sampler.join()
        claims = [x for p in parts for x in p["claims"]]
        completes = [x for p in parts for x in p["completes"]]
        size = _database_size(db, study)
        return {
            "trials_per_s": len(completes) / elapsed,
            "trials": len(completes),
            "errors": sum(p["errors"] for p in parts),
            "seconds": elapsed,
            "claim": _percentiles(claims),
            "complete": _percentiles(completes),
            "rss_mb": rss,
            "bytes_per_trial": size,
        }
    finally:
        for s in servers:
            s.stop()


def _database_size(db: str, study: str) -> float:
    import sqlalchemy as sa

    from tuner.storage.engine import normalise_url

    engine = sa.create_engine(normalise_url(db))
    with engine.connect() as conn:
        size = conn.execute(sa.text("SELECT pg_total_relation_size('trials')")).scalar()
        count = conn.execute(sa.text("SELECT count(*) FROM trials")).scalar()
    engine.dispose()
    return float(size or 0) / max(1, int(count or 0))


# -- Optuna -----------------------------------------------------------------------------------


def _optuna_process(url: str, study: str, threads: int, until: float, out: Any) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(
        url, engine_kwargs={"pool_size": threads, "max_overflow": 4}
    )
    asks: list[float] = []
    tells: list[float] = []

    def loop() -> None:
        handle = optuna.load_study(
            study_name=study, storage=storage, sampler=optuna.samplers.RandomSampler()
        )
        while time.time() < until:
            t0 = time.perf_counter()
            trial = handle.ask()
            x, y = trial.suggest_float("x", -5, 5), trial.suggest_float("y", -5, 5)
            asks.append(time.perf_counter() - t0)
            t1 = time.perf_counter()
            handle.tell(trial, _value({"x": x, "y": y}))
            tells.append(time.perf_counter() - t1)

    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put({"asks": asks, "tells": tells})


def run_optuna(db: str, clients: int, procs: int, seconds: float) -> dict[str, Any]:
    import optuna

    url = db.replace("postgresql+psycopg://", "postgresql+psycopg://")
    study = f"load-{uuid.uuid4().hex[:6]}"
    optuna.create_study(study_name=study, storage=url)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start = time.time()
    until = start + seconds
    workers = [
        ctx.Process(target=_optuna_process, args=(url, study, clients // procs, until, out))
        for _ in range(procs)
    ]
    for w in workers:
        w.start()
    parts = [out.get(timeout=seconds + 600) for _ in workers]
    for w in workers:
        w.join()
    elapsed = time.time() - start
    tells = [x for p in parts for x in p["tells"]]
    return {
        "trials_per_s": len(tells) / elapsed,
        "trials": len(tells),
        "seconds": elapsed,
        "claim": _percentiles([x for p in parts for x in p["asks"]]),
        "complete": _percentiles(tells),
    }


# -- report -----------------------------------------------------------------------------------


def _percentiles(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {"p50_ms": float("nan"), "p99_ms": float("nan")}
    q = statistics.quantiles(xs, n=100)
    return {"p50_ms": 1000 * statistics.median(xs), "p99_ms": 1000 * q[98]}


def _rss(pid: int | None) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--no-optuna", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.seconds, args.trials = 16, 45.0, 100_000
    if not args.no_optuna:  # before ten minutes of our side, not after
        import optuna  # noqa: F401  (the bench extra)
    folder = Path(__import__("tempfile").mkdtemp(prefix="tuner-load-"))
    db, schema = postgres_schema_url()
    try:
        ours = run_tuner(db, folder, args.clients, args.procs, args.seconds, args.trials)
    finally:
        drop_postgres_schema(schema)
    theirs = None
    if not args.no_optuna:
        db, schema = postgres_schema_url()
        try:
            theirs = run_optuna(db, args.clients, args.procs, args.seconds)
        finally:
            drop_postgres_schema(schema)
    report = {
        "clients": args.clients,
        "seconds": args.seconds,
        "study_trials": args.trials,
        "database": POSTGRES_URL.split("@")[-1],
        "tuner": ours,
        "optuna": theirs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_load.json").write_text(json.dumps(report, indent=2))
    text = _table(report)
    (RESULTS / "bench_load.md").write_text(text)
    print(text)
    _plot(ours)
    return 0


def _table(r: dict[str, Any]) -> str:
    lines = [
        f"{r['clients']} concurrent clients, {r['seconds']:.0f} s each, PostgreSQL",
        "",
        "| who | trials/s | trials | claim/ask p50 ms | p99 ms | complete/tell p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for who in ("tuner", "optuna"):
        x = r[who]
        if x is None:
            continue
        label = "Tuner, 2 replicas" if who == "tuner" else "Optuna RDBStorage"
        lines.append(
            f"| {label} | {x['trials_per_s']:.0f} | {x['trials']} | "
            f"{x['claim']['p50_ms']:.1f} | {x['claim']['p99_ms']:.1f} | "
            f"{x['complete']['p50_ms']:.1f} | {x['complete']['p99_ms']:.1f} |"
        )
    t = r["tuner"]
    first, last = (
        t["rss_mb"][0][1] if t["rss_mb"] else [],
        t["rss_mb"][-1][1] if t["rss_mb"] else [],
    )
    lines += [
        "",
        f"Tuner's servers' RSS (MB) at the start and the end: "
        f"{[round(x) for x in first]} -> {[round(x) for x in last]}; "
        f"database size per trial: {t['bytes_per_trial']:.0f} bytes; "
        f"errors: {t['errors']}",
    ]
    return "\n".join(lines) + "\n"


def _plot(ours: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not ours["rss_mb"]:
        return
    times = [t for t, _ in ours["rss_mb"]]
    fig, ax = plt.subplots(figsize=(6, 3))
    for i in range(len(ours["rss_mb"][0][1])):
        ax.plot(times, [v[i] for _, v in ours["rss_mb"]], label=f"replica {i + 1}")
    ax.set_xlabel("seconds")
    ax.set_ylabel("RSS (MB)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "bench_load.png", dpi=100)


if __name__ == "__main__":
    raise SystemExit(main())
