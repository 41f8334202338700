"""The ``tuner`` command line: run a study file, list studies, show leaderboards and trials."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from tuner import plugins
from tuner.config import Settings
from tuner.errors import SpecError, TunerError
from tuner.objective import load_function
from tuner.storage import Storage
from tuner.study import StudySpec, load_spec
from tuner.trial import TrialState


def main(argv: Sequence[str] | None = None) -> int:
    # Like uvicorn: "module:function" objectives are found from the working directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    args = _parser().parse_args(argv)
    try:
        return int(args.command(args) or 0)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TunerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):
            first = str(exc).strip().splitlines()[0]
            print(f"error: database: {first}", file=sys.stderr)
            return 1
        raise


def _parser() -> argparse.ArgumentParser:
    settings = Settings.from_env()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        default=settings.database_url,
        metavar="URL",
        help="database URL (default: $TUNER_DATABASE_URL, else sqlite:///tuner.db)",
    )
    p = argparse.ArgumentParser(prog="tuner", description="Hyperparameter tuning as a service.")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="create or resume a study and run its plan")
    run.add_argument("spec", help="study file (YAML or JSON)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--top", type=int, default=10, help="leaderboard rows printed at the end")
    run.set_defaults(command=cmd_run, lease=settings.lease_seconds,
                     artifacts=settings.artifacts_dir)

    studies = sub.add_parser("studies", parents=[common], help="list studies")
    studies.add_argument("--json", action="store_true")
    studies.set_defaults(command=cmd_studies)

    board = sub.add_parser("leaderboard", parents=[common], help="a study's trials, best first")
    board.add_argument("name")
    board.add_argument("--top", type=int, default=None, metavar="K")
    board.add_argument("--json", action="store_true")
    board.set_defaults(command=cmd_leaderboard)

    serve = sub.add_parser("serve", parents=[common], help="run the REST API server")
    serve.add_argument("--host", default=settings.host, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=settings.port)
    serve.set_defaults(command=cmd_serve)

    token = sub.add_parser("token", help="manage API tokens")
    token_sub = token.add_subparsers(required=True, metavar="ACTION")
    create = token_sub.add_parser("create", parents=[common], help="print a new token once")
    create.add_argument("--project", default="default")
    create.add_argument("--role", choices=["read", "write", "admin"], default="write")
    create.add_argument("--label", default="")
    create.set_defaults(command=cmd_token_create)
    tokens = token_sub.add_parser("list", parents=[common], help="list tokens (not secrets)")
    tokens.set_defaults(command=cmd_token_list)
    revoke = token_sub.add_parser("revoke", parents=[common], help="revoke a token by id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(command=cmd_token_revoke)

    worker = sub.add_parser("worker", help="run a server's study's trials on this machine")
    worker.add_argument("name", help="the study")
    worker.add_argument("--objective", required=True, metavar="MODULE:FUNCTION")
    worker.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    worker.add_argument("--trials", type=int, default=None, help="stop after this many")
    worker.add_argument("--url", default=None, help="server (default $TUNER_URL or stored)")
    worker.add_argument("--token", default=None, help="token (default $TUNER_TOKEN or stored)")
    worker.set_defaults(command=cmd_worker)

    trials = sub.add_parser("trials", parents=[common], help="a study's trials by number")
    trials.add_argument("name")
    trials.add_argument("--state", choices=[s.value for s in TrialState])
    trials.add_argument("--json", action="store_true")
    trials.set_defaults(command=cmd_trials)
    return p


# -- commands ---------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from tuner.runner import RunEvent, Stopped, StudyRunner

    spec = load_spec(args.spec)
    if spec.objective.function is not None:  # refuse a non-importable objective before writing
        load_function(spec.objective.function)
    storage = Storage(args.db)
    _create_or_resume(storage, spec)
    executor = plugins.executor(spec.executor.type)(**spec.executor.options)
    bar = _progress_bar(storage, spec, disable=args.no_progress)

    def on_event(event: RunEvent) -> None:
        bar.n = event.progress.done
        best = event.progress.best
        bar.set_postfix(
            round=f"{min(event.progress.round + 1, event.progress.rounds)}/{event.progress.rounds}",
            best="-" if best is None else f"{best.value:.6g}",
            refresh=False,
        )
        bar.refresh()

    runner = StudyRunner(storage, spec.name, executor, lease=args.lease, on_event=on_event,
                         artifacts_dir=os.path.abspath(args.artifacts))

    def request_stop(signum: int, frame: object) -> None:
        runner.stop()  # the runner stops at its next safe point; a second signal is immediate
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _raise_interrupt)

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        progress = runner.run()
    except (Stopped, KeyboardInterrupt):
        bar.close()
        print(
            f"\nstopped: run 'tuner run {args.spec}' again to go on where it stopped",
            file=sys.stderr,
        )
        return 130
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        executor.shutdown(cancel_running=True)
    bar.n = progress.done
    bar.close()
    failed = len(storage.trials(spec.name, states=[TrialState.FAILED]))
    print(
        f"study {spec.name}: {progress.done} trials done"
        + (f" ({failed} failed)" if failed else ""),
    )
    _print_leaderboard(storage, spec.name, args.top)
    return 0


def _create_or_resume(storage: Storage, spec: StudySpec) -> None:
    from tuner.errors import NotFound

    try:
        existing = storage.get_study(spec.name).spec
    except NotFound:
        storage.create_study(spec)
        return
    for field in ("space", "direction", "metric", "objective"):
        before, after = existing.to_dict().get(field), spec.to_dict().get(field)
        if before != after:
            raise SpecError(
                field,
                f"study {spec.name!r} already exists with another {field}; give the study a new "
                "name to start afresh",
            )
    storage.update_spec(spec.name, spec)


def cmd_studies(args: argparse.Namespace) -> int:
    summaries = Storage(args.db).list_studies()
    if args.json:
        print(json.dumps([s.__dict__ for s in summaries], indent=2))
        return 0
    rows = [
        [
            s.name,
            s.state,
            f"{min(s.round + 1, s.rounds)}/{s.rounds}",
            f"{s.done}/{s.planned}",
            _fmt(s.best_value),
            s.direction,
        ]
        for s in summaries
    ]
    _table(["study", "state", "round", "trials", "best", "direction"], rows)
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    storage = Storage(args.db)
    if args.json:
        print(json.dumps([t.to_dict() for t in storage.leaderboard(args.name, args.top)],
                         indent=2))
        return 0
    _print_leaderboard(storage, args.name, args.top)
    return 0


def cmd_trials(args: argparse.Namespace) -> int:
    storage = Storage(args.db)
    states = [TrialState(args.state)] if args.state else None
    trials = storage.trials(args.name, states=states)
    if args.json:
        print(json.dumps([t.to_dict() for t in trials], indent=2))
        return 0
    rows = [
        [
            t.number,
            t.round,
            t.state.value,
            _fmt(t.value),
            t.attempt,
            _fmt_params(t.params),
            (t.error or "").strip().splitlines()[0][:60] if t.error else "",
        ]
        for t in trials
    ]
    _table(["#", "round", "state", "value", "attempts", "params", "error"], rows)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import dataclasses

    import uvicorn

    from api import create_app
    from client import credentials

    settings = dataclasses.replace(
        Settings.from_env(), database_url=args.db, host=args.host, port=args.port
    )
    storage = Storage(settings.database_url)
    if storage.tokens.count() == 0:
        secret, _ = storage.tokens.create("default", "admin", "created by the first tuner serve")
        url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
        path = credentials.save(url, secret)
        print(f"first start: created an admin token (stored in {path}, mode 0600):\n"
              f"  {secret}\nit is shown only this once.", flush=True)
    uvicorn.run(create_app(settings, storage), host=args.host, port=args.port,
                log_level="warning")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    secret, token = Storage(args.db).tokens.create(args.project, args.role, args.label)
    print(secret)
    print(f"token {token.id}: project {token.project}, role {token.role} (shown only once)",
          file=sys.stderr)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    rows = [[t.id, t.project, t.role, t.label, t.created_at.isoformat(timespec="seconds")]
            for t in Storage(args.db).tokens.list()]
    _table(["id", "project", "role", "label", "created"], rows)
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from tuner.errors import NotFound

    if not Storage(args.db).tokens.revoke(args.id):
        raise NotFound(f"no token {args.id}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from client import TunerAPIError, TunerClient

    fn = load_function(args.objective)
    if args.workers < 1:
        raise SpecError("--workers", "must be a positive integer")
    client = TunerClient(args.url, args.token)
    try:
        study = client.study(args.name)
        done = study.optimize(fn, n_trials=args.trials, workers=args.workers)
    except TunerAPIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(f"worker: {done} trials of {args.name} run here")
    return 0


# -- helpers ----------------------------------------------------------------------------------


def _print_leaderboard(storage: Storage, study: str, top: int | None) -> None:
    trials = storage.leaderboard(study, top)
    if not trials:
        print("no complete trials yet")
        return
    rows = [
        [i + 1, t.number, t.round, _fmt(t.value), t.attempt, _fmt_duration(t.duration),
         _fmt_params(t.params)]
        for i, t in enumerate(trials)
    ]
    _table(["rank", "#", "round", "value", "attempts", "time", "params"], rows)


def _progress_bar(storage: Storage, spec: StudySpec, disable: bool) -> Any:
    from tqdm import tqdm

    done = sum(t.state.finished for t in storage.trials(spec.name))
    return tqdm(
        total=spec.total_trials,
        initial=done,
        desc=spec.name,
        unit="trial",
        disable=disable,
        dynamic_ncols=True,
    )


def _raise_interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.6g}" if math.isfinite(v) else str(v)


def _fmt_duration(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


def _fmt_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}" for k, v in params.items())


def _table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


if __name__ == "__main__":
    raise SystemExit(main())
