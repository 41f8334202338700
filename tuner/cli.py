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
from tuner.trial import Trial, TrialState


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
    run.set_defaults(command=cmd_run, lease=settings.lease_seconds)

    studies = sub.add_parser("studies", parents=[common], help="list studies")
    studies.add_argument("--json", action="store_true")
    studies.set_defaults(command=cmd_studies)

    board = sub.add_parser("leaderboard", parents=[common], help="a study's trials, best first")
    board.add_argument("name")
    board.add_argument("--top", type=int, default=None, metavar="K")
    board.add_argument("--json", action="store_true")
    board.set_defaults(command=cmd_leaderboard)

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
    load_function(spec.objective.function)  # refuse a non-importable objective before writing
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

    runner = StudyRunner(storage, spec.name, executor, lease=args.lease, on_event=on_event)

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
        print(json.dumps([t.to_dict() for t in leaderboard(storage, args.name, args.top)],
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


# -- helpers ----------------------------------------------------------------------------------


def leaderboard(storage: Storage, study: str, top: int | None = None) -> list[Trial]:
    """Complete trials, best first (ties by trial number)."""
    direction = storage.get_study(study).spec.direction
    trials = storage.trials(study, states=[TrialState.COMPLETE])
    trials.sort(key=lambda t: (direction.sort_key(t.value or 0.0), t.number))
    return trials[:top] if top is not None else trials


def _print_leaderboard(storage: Storage, study: str, top: int | None) -> None:
    trials = leaderboard(storage, study, top)
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
