"""The ``worker`` command: run a server's study's trials on this machine, ``--workers``
processes at once. ``tuner worker`` and ``python -m tuner.client worker`` (the client installed
alone) are this same command; it imports nothing of the server."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any


class WorkerCommand:
    help = "run a server's study's trials on this machine"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("name", help="the study")
        parser.add_argument(
            "--objective",
            required=True,
            metavar="MODULE:FUNCTION",
            help="fn(params) or fn(params, trial), found from the working directory",
        )
        parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
        parser.add_argument("--trials", type=int, default=None, help="stop after this many")
        parser.add_argument("--url", default=None, help="server (default $TUNER_URL or stored)")
        parser.add_argument("--token", default=None, help="token (default $TUNER_TOKEN or stored)")

    def __call__(self, args: argparse.Namespace) -> int:
        from tuner.client.http import TunerAPIError
        from tuner.client.tuner_client import TunerClient
        from tuner.client.work import WorkersFailed

        if args.workers < 1:
            print("error: --workers must be a positive integer", file=sys.stderr)
            return 2
        try:
            fn = _load(args.objective)
        except ValueError as exc:
            print(f"error: --objective: {exc}", file=sys.stderr)
            return 2
        client = TunerClient(args.url, args.token)
        try:
            study = client.study(args.name)
            done = study.optimize(
                fn, n_trials=args.trials, workers=args.workers, processes=args.workers > 1
            )
        except (TunerAPIError, WorkersFailed) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            client.close()
        print(f"worker: {done} trials of {args.name} run here")
        return 0


def _load(ref: str) -> Any:
    """``module:function`` from the working directory (after the installed packages)."""
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"{ref!r} is not 'module:function'")
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        obj: Any = importlib.import_module(module)
    except Exception as exc:  # the user's module failed to import: say why in one line
        raise ValueError(f"cannot import {module!r}: {type(exc).__name__}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{module!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{ref!r} is not callable")
    return obj


def main(argv: list[str] | None = None) -> int:
    """``python -m tuner.client worker ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m tuner.client", description="The Tuner client's command line."
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    command = WorkerCommand()
    worker = sub.add_parser("worker", help=command.help, description=command.help)
    command.configure(worker)
    worker.set_defaults(command=command)
    args = parser.parse_args(argv)
    try:
        return int(args.command(args))
    except KeyboardInterrupt:
        return 130
