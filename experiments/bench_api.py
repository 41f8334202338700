"""Ask+tell throughput through the REST API against Optuna's RDBStorage, side by side.

    python -m experiments.bench_api [--quick]

For SQLite and PostgreSQL, with 1, 4 and 16 client processes, it measures completed round trips
per second (claim + complete through a real ``tuner serve``; ``ask`` + ``tell`` on Optuna's
RDBStorage on the same database), random sampling on both sides so that storage and protocol are
compared, not samplers. Every run is checked for lost or duplicated trials. A second table
follows one client through a 10,000-trial study, 1,000 trials at a time, to show whether
throughput sags as the study grows. Writes ``experiments/results/bench_api.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SPACE = {
    "x": {"type": "float", "low": -5.0, "high": 5.0},
    "y": {"type": "float", "low": -5.0, "high": 5.0},
}


def value(x: float, y: float) -> float:
    return (x - 1) ** 2 + (y + 2) ** 2


# -- ours -------------------------------------------------------------------------------------


def _tuner_client(url: str, token: str, study: str, start: Any, out: Any) -> None:
    from tuner.client import StudyComplete, TunerClient

    with TunerClient(url, token) as client:
        handle = client.study(study)
        start.wait()
        done = 0
        try:  # what optimize() does: each result and the next claim in one round trip
            trial = handle.next_trial()
            while True:
                done += 1
                trial = trial.complete_and_next(value(trial.params["x"], trial.params["y"]))
        except StudyComplete:
            pass
    out.put(done)


def run_tuner(
    url: str, token: str, procs: int, trials: int, windows: int | None = None
) -> dict[str, Any]:
    """``trials`` trials by ``procs`` client processes; with ``windows``, one client and the
    time of each window of that many trials."""
    import httpx

    name = f"bench-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {token}"}
    spec = {
        "name": name,
        "objective": "experiments.bench_api:value",
        "space": SPACE,
        "plan": [{"algorithm": "random", "trials": trials}],
        "seed": 0,
    }
    httpx.post(f"{url}/api/v1/studies", json=spec, headers=headers, timeout=60).raise_for_status()
    if windows:
        return _windows_tuner(url, token, name, trials, windows)
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(target=_tuner_client, args=(url, token, name, start, out)) for _ in range(procs)
    ]
    for w in workers:
        w.start()
    time.sleep(2.0)  # every client connected and waiting
    t0 = time.perf_counter()
    start.set()
    counts = [out.get(timeout=3600) for _ in workers]
    elapsed = time.perf_counter() - t0
    for w in workers:
        w.join()
    trials_seen = _all_trials(url, headers, name)
    numbers = sorted(t["number"] for t in trials_seen)
    return {
        "trials": sum(counts),
        "seconds": elapsed,
        "per_second": sum(counts) / elapsed,
        "lost_or_duplicated": numbers != list(range(trials))
        or any(t["state"] != "complete" or t["attempt"] != 1 for t in trials_seen),
    }


def _windows_tuner(url: str, token: str, name: str, trials: int, window: int) -> dict[str, Any]:
    from tuner.client import TunerClient

    rates = []
    with TunerClient(url, token) as client:
        trial = client.study(name).next_trial()
        for w in range(trials // window):
            t0 = time.perf_counter()
            for i in range(window):
                result = value(trial.params["x"], trial.params["y"])
                if w == trials // window - 1 and i == window - 1:
                    trial.complete(result)
                else:
                    trial = trial.complete_and_next(result)
            rates.append(window / (time.perf_counter() - t0))
    return {"window": window, "per_second": rates}


def _all_trials(url: str, headers: dict[str, str], name: str) -> list[dict[str, Any]]:
    import httpx

    out: list[dict[str, Any]] = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        while True:
            page = http.get(
                f"/api/v1/studies/{name}/trials", params={"offset": len(out), "limit": 1000}
            ).json()
            out += page["items"]
            if len(out) >= page["total"] or not page["items"]:
                return out


# -- Optuna -----------------------------------------------------------------------------------


def _optuna_client(url: str, study: str, n: int, start: Any, out: Any) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    s = optuna.load_study(study_name=study, storage=url, sampler=optuna.samplers.RandomSampler())
    start.wait()
    for _ in range(n):
        trial = s.ask()
        x = trial.suggest_float("x", -5, 5)
        y = trial.suggest_float("y", -5, 5)
        s.tell(trial, value(x, y))
    out.put(n)


def run_optuna(url: str, procs: int, trials: int, windows: int | None = None) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    optuna.create_study(study_name=name, storage=url)
    if windows:
        s = optuna.load_study(study_name=name, storage=url, sampler=optuna.samplers.RandomSampler())
        rates = []
        for _ in range(trials // windows):
            t0 = time.perf_counter()
            for _ in range(windows):
                trial = s.ask()
                s.tell(
                    trial, value(trial.suggest_float("x", -5, 5), trial.suggest_float("y", -5, 5))
                )
            rates.append(windows / (time.perf_counter() - t0))
        return {"window": windows, "per_second": rates}
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    share = [trials // procs + (1 if i < trials % procs else 0) for i in range(procs)]
    workers = [ctx.Process(target=_optuna_client, args=(url, name, n, start, out)) for n in share]
    for w in workers:
        w.start()
    time.sleep(4.0)
    t0 = time.perf_counter()
    start.set()
    counts = [out.get(timeout=3600) for _ in workers]
    elapsed = time.perf_counter() - t0
    for w in workers:
        w.join()
    done = optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)
    return {
        "trials": sum(counts),
        "seconds": elapsed,
        "per_second": sum(counts) / elapsed,
        "lost_or_duplicated": len(done) != trials
        or any(t.state != optuna.trial.TrialState.COMPLETE for t in done),
    }


# -- databases and the server -----------------------------------------------------------------


def fresh_database(kind: str, home: Path) -> tuple[str, str | None]:
    """A URL of an empty database (PostgreSQL: a new schema) and the schema to drop after."""
    if kind == "sqlite":
        return f"sqlite:///{home / f'{uuid.uuid4().hex[:6]}.db'}", None
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(POSTGRES)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{POSTGRES}?options=-csearch_path%3D{schema}", schema


def drop_schema(schema: str | None) -> None:
    if schema is None:
        return
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


class Server:
    def __init__(self, db: str, home: Path) -> None:
        import socket
        import subprocess

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "TUNER_CONFIG_DIR": str(home)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tuner.cli", "serve", "--port", str(port), "--db", db],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import httpx

        for _ in range(300):
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        self.token = json.loads((home / "credentials.json").read_text())["token"]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


# -- the run ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer trials, 1 and 4 clients")
    parser.add_argument("--out", type=Path, default=REPO / "experiments" / "results")
    a = parser.parse_args()
    procs_list = [1, 4] if a.quick else [1, 4, 16]
    per_proc = 100 if a.quick else 300
    growth = 2000 if a.quick else 10_000
    optuna_growth = 1000 if a.quick else 3000
    rows: list[dict[str, Any]] = []
    growth_rows: list[dict[str, Any]] = []
    for backend in ("sqlite", "postgresql"):
        for procs in procs_list:
            trials = per_proc * procs
            with tempfile.TemporaryDirectory() as tmp:
                home = Path(tmp)
                db, schema = fresh_database(backend, home)
                server = Server(db, home)
                try:
                    ours = run_tuner(server.url, server.token, procs, trials)
                finally:
                    server.close()
                    drop_schema(schema)
                db, schema = fresh_database(backend, home)
                try:
                    theirs = run_optuna(db, procs, trials)
                finally:
                    drop_schema(schema)
            row = {
                "backend": backend,
                "clients": procs,
                "trials": trials,
                "tuner": ours,
                "optuna": theirs,
                "ratio": ours["per_second"] / theirs["per_second"],
            }
            rows.append(row)
            print(
                f"{backend:10} {procs:3} clients  tuner {ours['per_second']:8.1f}/s  "
                f"optuna {theirs['per_second']:8.1f}/s  x{row['ratio']:.1f}  "
                f"lost/dup: {ours['lost_or_duplicated']}/{theirs['lost_or_duplicated']}",
                flush=True,
            )
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            db, schema = fresh_database(backend, home)
            server = Server(db, home)
            try:
                ours = run_tuner(server.url, server.token, 1, growth, windows=growth // 10)
            finally:
                server.close()
                drop_schema(schema)
            db, schema = fresh_database(backend, home)
            try:
                theirs = run_optuna(db, 1, optuna_growth, windows=optuna_growth // 6)
            finally:
                drop_schema(schema)
        growth_rows.append({"backend": backend, "tuner": ours, "optuna": theirs})
        print(
            f"{backend} growth: tuner {[round(r) for r in ours['per_second']]} per "
            f"{ours['window']}; optuna {[round(r) for r in theirs['per_second']]} per "
            f"{theirs['window']}",
            flush=True,
        )
    write(a.out, rows, growth_rows, a.quick)


def write(out: Path, rows: list[dict[str, Any]], growth: list[dict[str, Any]], quick: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    versions = {
        p: _version(p) for p in ("fastapi", "uvicorn", "sqlalchemy", "psycopg", "httpx", "optuna")
    }
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "versions": versions,
        "quick": quick,
    }
    (out / "bench_api.json").write_text(
        json.dumps({"meta": meta, "throughput": rows, "growth": growth}, indent=2)
    )
    lines = [
        "| database | clients | trials | Tuner API (trials/s) | Optuna RDBStorage (trials/s) "
        "| ratio | lost or duplicated |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lost = (
            "none"
            if not (r["tuner"]["lost_or_duplicated"] or r["optuna"]["lost_or_duplicated"])
            else "YES"
        )
        lines.append(
            f"| {r['backend']} | {r['clients']} | {r['trials']} | "
            f"{r['tuner']['per_second']:.0f} | {r['optuna']['per_second']:.1f} | "
            f"{r['ratio']:.1f}x | {lost} |"
        )
    lines += ["", "| database | who | trials/s per window (1 client) |", "|---|---|---|"]
    for g in growth:
        for who in ("tuner", "optuna"):
            w = g[who]
            rates = ", ".join(f"{x:.0f}" for x in w["per_second"])
            lines.append(f"| {g['backend']} | {who} (windows of {w['window']}) | {rates} |")
    (out / "bench_api.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


if __name__ == "__main__":
    main()
