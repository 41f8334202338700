"""The web leaderboard in headless Chromium against optuna-dashboard, on the same trials.

    python -m experiments.bench_web [--sizes 1000,10000,100000] [--dashboard-sizes 1000,10000]

For each size, a study of that many complete trials (5 floats + 1 categorical) is written once
into a Tuner SQLite database (``import_study``) and an Optuna SQLite storage (``add_trials``,
then the same rows in bulk: ``optuna_db``),
cached under ``build/bench_web/`` (``--cache DIR`` or ``TUNER_BENCH_WEB_CACHE``: keep them under
/tmp to share them between work trees). Each run starts a fresh server and a fresh browser context
and measures the time from navigation to the frame after the first leaderboard rows (the
dashboard's trial list) and the first point of the history plot appear, in Debian's chromium
driven by Playwright. optuna-dashboard
(``pip install optuna-dashboard gunicorn``, not a Tuner dependency) runs under gunicorn with one
worker. Then, on a running Tuner study: live-update latency (a trial completed through the API
until the open page shows it) and the server's RSS while a page stays open and trials finish.
Writes ``experiments/results/bench_web.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
# The built studies are kept here (``--cache``): writing 100,000 Optuna trials takes ~12 minutes.
CACHE = Path(os.environ.get("TUNER_BENCH_WEB_CACHE", REPO / "build" / "bench_web"))
CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 180_000
THROUGH_OPTUNA = 1000  # trials of a built Optuna study written by Optuna itself


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _trials(n: int) -> list[tuple[dict[str, Any], float]]:
    import numpy as np

    rng = np.random.default_rng(n)
    out = []
    for i in range(n):
        params: dict[str, Any] = {f"x{k}": float(rng.uniform(-5, 5)) for k in range(5)}
        params["c"] = "abc"[i % 3]
        value = sum(params[f"x{k}"] ** 2 for k in range(5)) + (0.5 if params["c"] == "b" else 0)
        out.append((params, value))
    return out


SPACE = {
    **{f"x{k}": {"type": "float", "low": -5.0, "high": 5.0} for k in range(5)},
    "c": {"type": "categorical", "choices": ["a", "b", "c"]},
}


def tuner_db(n: int) -> Path:
    """A Tuner SQLite database holding study ``s<n>`` of ``n`` complete trials."""
    from tuner.storage import Storage
    from tuner.study import StudySpec, StudyState
    from tuner.trial import Attempt, Trial, TrialState

    path = CACHE / f"tuner-{n}.db"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    first = n // 5
    spec = StudySpec.from_dict(
        {
            "name": f"s{n}",
            "space": SPACE,
            "plan": [
                {"algorithm": "random", "trials": first},
                {"algorithm": "bayesian", "trials": n - first},
            ],
        },
        check=False,
    )
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    trials = []
    for i, (params, value) in enumerate(_trials(n)):
        start, end = t0 + timedelta(seconds=i), t0 + timedelta(seconds=i + 1)
        trials.append(
            Trial(
                study=spec.name,
                number=i,
                round=0 if i < first else 1,
                params=params,
                state=TrialState.COMPLETE,
                attempt=1,
                value=value,
                values={"value": value},
                worker="bench",
                created_at=start,
                started_at=start,
                finished_at=end,
                attempts=(Attempt(1, "bench", start, end, "complete"),),
            )
        )
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    storage = Storage(f"sqlite:///{tmp}")
    storage.import_study(spec.name, spec, StudyState.COMPLETE, 2, t0, trials)
    storage.close()
    tmp.rename(path)
    return path


def optuna_db(n: int) -> Path:
    """An Optuna SQLite storage holding study ``s<n>`` with the same trials. The first
    ``THROUGH_OPTUNA`` go in through Optuna's own ``add_trials``; the rest (100,000 trials take
    ~12 minutes that way) are written as the same rows in bulk, copying the first ones' formats
    (distribution JSON, categorical index, value type); Optuna then counts them and reads the
    last one back."""
    import sqlite3

    import optuna

    path = CACHE / f"optuna-{n}.db"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{tmp}"
    study = optuna.create_study(study_name=f"s{n}", storage=storage)
    dists: dict[str, Any] = {
        f"x{k}": optuna.distributions.FloatDistribution(-5, 5) for k in range(5)
    }
    dists["c"] = optuna.distributions.CategoricalDistribution(["a", "b", "c"])
    trials = _trials(n)
    head = min(n, THROUGH_OPTUNA)
    study.add_trials(
        [
            optuna.trial.create_trial(params=p, distributions=dists, value=v)
            for p, v in trials[:head]
        ]
    )
    db = sqlite3.connect(tmp)
    with db:
        study_id, last_id, start, end = db.execute(
            "SELECT study_id, MAX(trial_id), MAX(datetime_start), MAX(datetime_complete) "
            "FROM trials"
        ).fetchone()
        kinds = dict(db.execute("SELECT DISTINCT param_name, distribution_json FROM trial_params"))
        rows, params, values = [], [], []
        for i, (p, v) in enumerate(trials[head:], start=head):
            trial_id = last_id + 1 + i - head
            rows.append((trial_id, i, study_id, "COMPLETE", start, end))
            params += [(trial_id, k, dists[k].to_internal_repr(x), kinds[k]) for k, x in p.items()]
            values.append((trial_id, 0, v, "FINITE"))
        db.executemany("INSERT INTO trials VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.executemany(
            "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) "
            "VALUES (?, ?, ?, ?)",
            params,
        )
        db.executemany(
            "INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?, ?, ?, ?)",
            values,
        )
    db.close()
    rdb = optuna.storages.RDBStorage(storage)
    count = rdb.get_n_trials(study._study_id)
    last = rdb.get_trial(rdb.get_trial_id_from_study_id_trial_number(study._study_id, n - 1))
    if count != n or (last.params, last.value) != trials[-1]:
        raise RuntimeError(f"Optuna reads {count} trials in {tmp}, not the {n} written")
    rdb.remove_session()
    tmp.rename(path)
    return path


class Server:
    """A server process on a free port, stopped on exit; ``rss`` reads its memory."""

    def __init__(self, args: list[str], ready: str, env: dict[str, str] | None = None) -> None:
        self.port = _port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [a.replace("{port}", str(self.port)) for a in args]
        self.ready = ready
        self.env = {**os.environ, **(env or {})}

    def __enter__(self) -> Server:
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            self.args, env=self.env, stdout=self.log, stderr=self.log, start_new_session=True
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + self.ready, timeout=2).status_code < 500:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        self.log.seek(0)
        raise RuntimeError(f"{self.args[0]} did not start:\n{self.log.read().decode()[-2000:]}")

    def __exit__(self, *_: object) -> None:
        """Stop the server and its children (gunicorn's worker outlives its master otherwise)."""
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)

    def rss_mb(self) -> float:
        """Resident memory of the server and its children (gunicorn's worker), in MB."""
        pids = [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        total = 0
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total / 1024


def tuner_server(db: Path, home: Path) -> Server:
    args = [sys.executable, "-m", "tuner.cli", "serve", "--port", "{port}", "--db"]
    env = {"TUNER_CONFIG_DIR": str(home)}
    return Server([*args, f"sqlite:///{db}"], "/healthz", env)


def dashboard_server(db: Path) -> Server:
    exe = shutil.which("optuna-dashboard") or str(Path(sys.executable).parent / "optuna-dashboard")
    args = [exe, f"sqlite:///{db}", "--port", "{port}", "--host", "127.0.0.1"]
    return Server([*args, "--server", "gunicorn"], "/api/studies")


FRAME = "() => new Promise(r => requestAnimationFrame(() => r(performance.now())))"


def paint(browser: Any, url: str, selector: str, cookie: dict[str, Any] | None) -> float:
    """Seconds from navigation to the frame after ``selector`` first matches."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        if cookie:
            context.add_cookies([cookie])
        page = context.new_page()
        page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
        page.wait_for_selector(selector, state="attached", timeout=TIMEOUT_MS)
        return float(page.evaluate(FRAME)) / 1000
    finally:
        context.close()


def token_of(home: Path) -> str:
    return str(json.loads((home / "credentials.json").read_text())["token"])


def measure_tuner(browser: Any, n: int, runs: int) -> dict[str, Any]:
    db = tuner_db(n)
    out: dict[str, list[float]] = {"rows": [], "history": [], "rss_mb": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            fresh = Path(home) / db.name  # its first start makes an admin token
            shutil.copy(db, fresh)
            with tuner_server(fresh, Path(home)) as server:
                cookie = {"name": "tuner_token", "value": token_of(Path(home)), "url": server.url}
                url = f"{server.url}/studies/s{n}"
                out["rows"].append(paint(browser, url, "#leaderboard tbody tr", cookie))
                out["history"].append(paint(browser, url, "#plot-history circle", cookie))
                out["rss_mb"].append(server.rss_mb())
    return out


def measure_dashboard(browser: Any, n: int, runs: int) -> dict[str, Any]:
    db = optuna_db(n)
    out: dict[str, list[float]] = {"rows": [], "history": [], "rss_mb": []}
    for _ in range(runs):
        with dashboard_server(db) as server:
            base = f"{server.url}/dashboard/studies/1"
            try:
                # its trial list (its trialTable page drew no row headless, even at 1,000)
                first = '.MuiListItemButton-root:has-text("Trial 0")'
                out["rows"].append(paint(browser, f"{base}/trials", first, None))
                out["history"].append(
                    paint(browser, base, ".js-plotly-plot .scatterlayer .point", None)
                )
            except Exception as exc:  # noqa: BLE001 - a timeout is a result too
                out.setdefault("errors", []).append(type(exc).__name__)  # type: ignore[arg-type]
            out["rss_mb"].append(server.rss_mb())
    return out


def live_latency(browser: Any, samples: int, minutes: float) -> dict[str, Any]:
    """On a running study: completed-to-shown latency, and the server's RSS over time."""
    from tuner.storage import Storage

    with tempfile.TemporaryDirectory() as home:
        db = Path(home) / "live.db"
        Storage(f"sqlite:///{db}").close()
        with tuner_server(db, Path(home)) as server:
            token = token_of(Path(home))
            headers = {"Authorization": f"Bearer {token}"}
            api = httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=30)
            plan = [{"algorithm": "random", "trials": 100_000, "parallelism": 4}]
            api.post("/studies", json={"name": "live", "space": SPACE, "plan": plan})
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_cookies([{"name": "tuner_token", "value": token, "url": server.url}])
            page = context.new_page()
            page.goto(f"{server.url}/studies/live")
            page.select_option("#limit", "25")
            page.click("#leaderboard th[data-key=number]")
            page.click("#leaderboard th[data-key=number]")  # newest first

            def finish() -> tuple[int, float]:
                trial = api.post("/studies/live/trials/claim", json={"worker": "b"}).json()["trial"]
                body = {"attempt": trial["attempt"], "value": 1.0}
                api.post(f"/studies/live/trials/{trial['number']}/complete", json=body)
                return int(trial["number"]), time.monotonic()

            finish()
            page.wait_for_selector("#leaderboard tr[data-number='0'] td.state.complete")
            latencies = []
            for _ in range(samples):
                number, done = finish()
                page.wait_for_selector(  # the row was there already, running
                    f"#leaderboard tr[data-number='{number}'] td.state.complete", timeout=30_000
                )
                latencies.append(time.monotonic() - done)
                time.sleep(0.3)
            # memory while the page stays open and a worker finishes trials
            stop = threading.Event()

            def work() -> None:
                while not stop.is_set():
                    finish()
                    time.sleep(0.05)

            worker = threading.Thread(target=work, daemon=True)
            worker.start()
            rss = []
            end = time.monotonic() + minutes * 60
            while time.monotonic() < end:
                rss.append(round(server.rss_mb(), 1))
                time.sleep(10)
            stop.set()
            worker.join()
            trials = api.get("/studies/live").json()["done"]
            context.close()
    return {"latency_s": latencies, "rss_mb": rss, "trials_at_end": trials}


def main() -> None:
    global CACHE
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000", help="study sizes for Tuner")
    parser.add_argument(
        "--dashboard-sizes",
        default="1000,10000,100000",
        help="sizes for optuna-dashboard",
    )
    parser.add_argument("--runs", type=int, default=2, help="fresh server and browser per run")
    parser.add_argument("--latency-samples", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=3.0, help="memory watch on a live page")
    parser.add_argument("--out", type=Path, default=REPO / "experiments" / "results")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where built studies are kept")
    parser.add_argument(
        "--build-only", action="store_true", help="build the studies of every size and stop"
    )
    args = parser.parse_args()
    CACHE = args.cache
    from playwright.sync_api import sync_playwright

    sizes = [int(x) for x in args.sizes.split(",") if x]
    dash_sizes = [int(x) for x in args.dashboard_sizes.split(",") if x]
    if args.build_only:
        for n in sizes:
            print(f"tuner {n}: {tuner_db(n)}", flush=True)
        for n in dash_sizes:
            print(f"optuna {n}: {optuna_db(n)}", flush=True)
        return
    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "tuner": {},
        "optuna_dashboard": {},
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for n in sizes:
            results["tuner"][n] = measure_tuner(browser, n, args.runs)
            print(f"tuner {n}: {results['tuner'][n]}", flush=True)
        for n in dash_sizes:
            results["optuna_dashboard"][n] = measure_dashboard(browser, n, args.runs)
            print(f"optuna-dashboard {n}: {results['optuna_dashboard'][n]}", flush=True)
        results["live"] = live_latency(browser, args.latency_samples, args.minutes)
        print(f"live: {results['live']}", flush=True)
        browser.close()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_web.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "bench_web.md").write_text(report(results))
    print(report(results))


def _runs(xs: list[float]) -> str:
    return " / ".join(f"{x:.2f} s" for x in xs) or "-"


def report(r: dict[str, Any]) -> str:
    lines = [
        "| trials | Tuner: first rows | Tuner: history plot | Tuner RSS | "
        "optuna-dashboard: first rows | optuna-dashboard: history plot | optuna-dashboard RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in sorted({*map(int, r["tuner"]), *map(int, r["optuna_dashboard"])}):
        t = r["tuner"].get(n) or r["tuner"].get(str(n)) or {}
        d = r["optuna_dashboard"].get(n) or r["optuna_dashboard"].get(str(n)) or {}
        lines.append(
            f"| {n:,} | {_runs(t.get('rows', []))} | {_runs(t.get('history', []))} | "
            f"{max(t.get('rss_mb', [0])):.0f} MB | {_runs(d.get('rows', []))} | "
            f"{_runs(d.get('history', []))} | "
            f"{(str(round(max(d['rss_mb']))) + ' MB') if d.get('rss_mb') else '-'} |"
        )
    live = r.get("live")
    if live:
        lat = live["latency_s"]
        lines += [
            "",
            f"Live update, trial completed to row shown: median {statistics.median(lat):.2f} s, "
            f"max {max(lat):.2f} s ({len(lat)} trials). Server RSS with the page open while "
            f"{live['trials_at_end']} trials finished: {live['rss_mb'][0]} MB at the start, "
            f"{max(live['rss_mb'])} MB at most, {live['rss_mb'][-1]} MB at the end.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
