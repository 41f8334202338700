"""A seedable fault campaign: many short studies run at once by two replicas (one holding the
server-side run), remote workers and a CLI runner, all on one PostgreSQL (a private cluster
behind a proxy that cuts connections), while faults are injected at random: SIGKILL of a
replica, a worker, a runner or a trial process, PostgreSQL stopped for seconds, every connection
cut, a worker paused past its lease (SIGSTOP) and resumed. At the end every study is checked:
every planned trial done exactly once, no attempt recorded complete twice, no lease left.

    .venv/bin/python -m experiments.fault_campaign --quick       # 12 faults, a couple of minutes
    .venv/bin/python -m experiments.fault_campaign --faults 1000 # the full campaign (an hour)

It prints runs, faults by kind and trials planned/done/lost/duplicated, and writes
experiments/results/fault_campaign.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.api.server import ServerProcess
from tests.conftest import REPO
from tests.postgres_cluster import PrivateCluster
from tests.tcp_proxy import CuttingProxy

RESULTS = REPO / "experiments" / "results"
OBJECTIVE = "experiments.campaign_objectives:work"
LEASE = 2.0
KINDS = (
    "kill_replica",
    "kill_worker",
    "kill_runner",
    "kill_trial",
    "stop_database",
    "cut_connections",
    "pause_worker",
)


@dataclass
class Fleet:
    """Everything the campaign runs and may hurt."""

    cluster: PrivateCluster
    proxy: CuttingProxy
    replicas: list[ServerProcess]
    folder: Path
    url: str  # the database, through the proxy
    workers: dict[str, list[subprocess.Popen[str]]] = field(default_factory=dict)
    runners: dict[str, subprocess.Popen[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api(self) -> str:
        return ",".join(r.url for r in self.replicas)

    @property
    def token(self) -> str:
        return self.replicas[0].token

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "TUNER_LEASE_SECONDS": str(LEASE),
            "TUNER_CONFIG_DIR": str(self.folder),
        }


def study_file(folder: Path, name: str, trials: int, seed: int) -> Path:
    spec = {
        "name": name,
        "objective": {"function": OBJECTIVE},
        "seed": seed,
        "retries": 20,
        "space": {
            "x": {"type": "float", "low": -5, "high": 5},
            "n": {"type": "int", "low": 1, "high": 8},
        },
        "plan": [{"algorithm": "random", "trials": trials}],
        "executor": {"type": "local", "workers": 2},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def start_worker(fleet: Fleet, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tuner.cli",
            "worker",
            name,
            "--objective",
            OBJECTIVE,
            "--url",
            fleet.api,
            "--token",
            fleet.token,
        ],
        cwd=REPO,
        env=fleet.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def start_runner(fleet: Fleet, spec: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tuner.cli", "run", str(spec), "--no-progress", "--db", fleet.url],
        cwd=REPO,
        env=fleet.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def api(fleet: Fleet, method: str, path: str, **kw: Any) -> httpx.Response:
    """A request to whichever replica answers (as the client fails over)."""
    for _ in range(600):
        for replica in fleet.replicas:
            try:
                r = httpx.request(
                    method,
                    f"{replica.url}/api/v1{path}",
                    timeout=10,
                    headers={"Authorization": f"Bearer {fleet.token}"},
                    **kw,
                )
            except httpx.HTTPError:
                continue
            if r.status_code < 500:
                return r
        time.sleep(0.5)
    raise RuntimeError(f"no replica answered {method} {path}")


def run_study(fleet: Fleet, name: str, trials: int, seed: int) -> dict[str, Any]:
    """Run one study by every kind of worker at once, keeping them alive until it is done;
    then check it."""
    spec = study_file(fleet.folder, name, trials, seed)
    body = yaml.safe_load(spec.read_text())
    assert api(fleet, "POST", "/studies", json=body).status_code == 201
    assert api(fleet, "POST", f"/studies/{name}/run").status_code == 202
    with fleet.lock:
        fleet.workers[name] = [start_worker(fleet, name) for _ in range(2)]
        fleet.runners[name] = start_runner(fleet, spec)
    deadline = time.monotonic() + 600
    while api(fleet, "GET", f"/studies/{name}").json()["state"] != "complete":
        if time.monotonic() > deadline:
            break
        with fleet.lock:  # what a fault killed comes back
            fleet.workers[name] = [
                w if w.poll() is None else start_worker(fleet, name) for w in fleet.workers[name]
            ]
            if fleet.runners[name].poll() not in (None, 0):
                fleet.runners[name] = start_runner(fleet, spec)
        time.sleep(0.5)
    with fleet.lock:
        for p in [*fleet.workers.pop(name), fleet.runners.pop(name)]:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    return check(fleet, name, trials)


def check(fleet: Fleet, name: str, planned: int) -> dict[str, Any]:
    """What became of a study's trials, read from the database itself: every planned trial
    complete, each with exactly one completed attempt, none left running?"""
    from tuner.errors import TunerError
    from tuner.storage import Storage

    # the database itself, not through the proxy, which keeps cutting connections
    direct = fleet.url.replace(f":{fleet.proxy.port}/", f":{fleet.cluster.port}/")
    for attempt in range(120):  # the database may be stopped by a fault right now
        try:
            storage = Storage(direct)
            try:
                trials = storage.trials(name)
            finally:
                storage.close()
            break
        except TunerError:  # Unavailable, or "cannot open database" while it is down
            if attempt == 119:
                raise
            time.sleep(1.0)
    numbers = [t.number for t in trials]
    completions = Counter(t.number for t in trials for a in t.attempts if a.outcome == "complete")
    complete = [t for t in trials if t.state.value == "complete"]
    return {
        "study": name,
        "planned": planned,
        "done": len(complete),
        "lost": planned - len(complete) + (len(numbers) - len(set(numbers))),
        "duplicated": sum(n - 1 for n in completions.values() if n > 1),
        "running_left": sum(t.state.value == "running" for t in trials),
        "attempts": sum(t.attempt for t in trials),
    }


class Injector:
    """Injects one fault of a random kind every ``interval`` seconds (on average)."""

    def __init__(self, fleet: Fleet, rng: random.Random, interval: float) -> None:
        self.fleet = fleet
        self.rng = rng
        self.interval = interval
        self.counts: Counter[str] = Counter()
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._busy: set[str] = set()  # kinds being injected now (one of each at a time)

    def run(self, limit: int, seed: int) -> None:
        """One injecting thread (several run at once, each with its own random stream)."""
        rng = random.Random(seed)
        while not self.stop.is_set() and self.total < limit:
            self.stop.wait(rng.expovariate(1.0 / self.interval))
            with self._lock:
                free = [k for k in KINDS if k not in self._busy]
                if self.stop.is_set() or not free:
                    continue
                kind = rng.choice(free)
                self._busy.add(kind)
            try:
                if getattr(self, kind)():
                    with self._lock:
                        self.counts[kind] += 1
            except Exception as exc:  # noqa: BLE001 - a fault that could not be made
                print(f"  ({kind} not injected: {str(exc).splitlines()[0]})", flush=True)
            finally:
                with self._lock:
                    self._busy.discard(kind)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def kill_replica(self) -> bool:
        replica = self.rng.choice(self.fleet.replicas)
        replica.kill()
        time.sleep(self.rng.uniform(0.5, 3.0))
        for _ in range(10):  # it answers once its database does (it may be down meanwhile)
            try:
                replica.start()
                break
            except AssertionError:
                replica.kill()
        return True

    def _live(self, processes: list[subprocess.Popen[str]]) -> subprocess.Popen[str] | None:
        live = [p for p in processes if p.poll() is None]
        return self.rng.choice(live) if live else None

    def kill_worker(self) -> bool:
        with self.fleet.lock:
            victim = self._live([w for ws in self.fleet.workers.values() for w in ws])
        if victim is None:
            return False
        victim.kill()
        return True

    def kill_runner(self) -> bool:
        with self.fleet.lock:
            victim = self._live(list(self.fleet.runners.values()))
        if victim is None:
            return False
        victim.kill()
        return True

    def kill_trial(self) -> bool:
        trials = _trial_processes()
        if not trials:
            return False
        os.kill(self.rng.choice(trials), signal.SIGKILL)
        return True

    def stop_database(self) -> bool:
        self.fleet.cluster.stop()
        time.sleep(self.rng.uniform(2.0, 6.0))
        self.fleet.cluster.start()
        return True

    def cut_connections(self) -> bool:
        return self.fleet.proxy.cut() > 0

    def pause_worker(self) -> bool:
        with self.fleet.lock:
            victim = self._live([w for ws in self.fleet.workers.values() for w in ws])
        if victim is None:
            return False
        os.kill(victim.pid, signal.SIGSTOP)
        time.sleep(LEASE + self.rng.uniform(0.5, 2.0))  # past its lease
        os.kill(victim.pid, signal.SIGCONT)
        return True


def _trial_processes() -> list[int]:
    """Processes of trials now running: children of a local executor's forkserver started by
    this campaign (never another program's: the machine may be running other test suites)."""
    parents: dict[int, int] = {}
    forkservers = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents[int(entry.name)] = ppid
        if b"multiprocessing.forkserver" in cmd and int(entry.name) != os.getpid():
            forkservers.add(int(entry.name))
    ours = {pid for pid in forkservers if _descends_from(pid, os.getpid(), parents)}
    return [pid for pid, ppid in parents.items() if ppid in ours]


def _descends_from(pid: int, ancestor: int, parents: dict[int, int]) -> bool:
    seen = set()
    while pid > 1 and pid not in seen:
        if pid == ancestor:
            return True
        seen.add(pid)
        pid = parents.get(pid, 0)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few studies and 12 faults")
    parser.add_argument("--faults", type=int, default=1000, help="faults to inject (full run)")
    parser.add_argument("--trials", type=int, default=16, help="trials per study")
    parser.add_argument("--parallel", type=int, default=3, help="studies at once")
    parser.add_argument(
        "--interval",
        type=float,
        default=1.5,
        help="mean seconds between the faults of one injector",
    )
    parser.add_argument("--injectors", type=int, default=3, help="faults injected at once")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "fault_campaign.json"))
    args = parser.parse_args(argv)
    faults = 12 if args.quick else args.faults
    if args.quick:  # small studies, faults close together: a couple of minutes
        args.trials, args.parallel, args.interval, args.injectors = 8, 2, 1.0, 2
    rng = random.Random(args.seed)
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"tuner-campaign-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    cluster = PrivateCluster()
    cluster.start()
    proxy = CuttingProxy(("127.0.0.1", cluster.port))
    url = cluster.database().replace(f":{cluster.port}/", f":{proxy.port}/")
    allow = ("--allow-runs", "--allow-function", "experiments.campaign_objectives")
    replicas = [ServerProcess(url, folder, lease=LEASE, args=allow).start()]
    replicas.append(ServerProcess(url, folder, lease=LEASE, args=allow).start())
    fleet = Fleet(cluster, proxy, replicas, folder, url)
    injector = Injector(fleet, rng, args.interval)
    started = time.monotonic()
    injecting = [
        threading.Thread(target=injector.run, args=(faults, args.seed * 100 + i), daemon=True)
        for i in range(args.injectors)
    ]
    for thread in injecting:
        thread.start()
    results: list[dict[str, Any]] = []
    try:
        number = 0
        while any(t.is_alive() for t in injecting) or not results:
            batch = [f"c{args.seed}-{number + i}" for i in range(args.parallel)]
            number += args.parallel
            threads = []
            for i, name in enumerate(batch):

                def one(name: str = name, seed: int = number + i) -> None:
                    results.append(run_study(fleet, name, args.trials, seed))

                threads.append(threading.Thread(target=one, daemon=True))
                threads[-1].start()
            for t in threads:
                t.join()
            done = injector.total
            print(
                f"{len(results)} studies, {done} faults so far "
                f"({time.monotonic() - started:.0f} s)",
                flush=True,
            )
            if args.quick and done >= faults:
                break
    finally:
        injector.stop.set()
        for r in fleet.replicas:
            r.stop()
        proxy.close()
        cluster.destroy()
    summary = {
        "seed": args.seed,
        "studies": len(results),
        "faults": dict(injector.counts),
        "faults_total": sum(injector.counts.values()),
        "planned": sum(r["planned"] for r in results),
        "done": sum(r["done"] for r in results),
        "lost": sum(r["lost"] for r in results),
        "duplicated": sum(r["duplicated"] for r in results),
        "running_left": sum(r["running_left"] for r in results),
        "attempts": sum(r["attempts"] for r in results),
        "seconds": round(time.monotonic() - started, 1),
    }
    _print(summary)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"summary": summary, "studies": results}, indent=2))
    ok = summary["lost"] == 0 and summary["duplicated"] == 0 and summary["running_left"] == 0
    return 0 if ok else 1


def _print(s: dict[str, Any]) -> None:
    print(f"\nstudies {s['studies']}, faults {s['faults_total']} in {s['seconds']} s")
    print("| fault | injected |\n|---|---|")
    for kind in KINDS:
        print(f"| {kind} | {s['faults'].get(kind, 0)} |")
    print(
        "\n| trials planned | done exactly once | lost | duplicated | leases left running |"
        " attempts |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| {s['planned']} | {s['done']} | {s['lost']} | {s['duplicated']} | "
        f"{s['running_left']} | {s['attempts']} |"
    )


if __name__ == "__main__":
    raise SystemExit(main())
