"""``tuner run STUDY.yaml``: create or resume a study and run its plan here, with a progress bar."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any, NoReturn

from tuner.cli import database_option
from tuner.commands import output
from tuner.commands.studies import positive
from tuner.runner import RunEvent, Stopped
from tuner.runs import prepare_run
from tuner.storage import Storage
from tuner.study import StudySpec, StudyState, load_spec
from tuner.trial import TrialState


class RunCommand:
    help = "create or resume a study from its file and run its plan"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        database_option(parser)
        parser.add_argument("spec", help="study file (YAML or JSON)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--top", type=positive, default=10, help="leaderboard rows printed at the end"
        )

    def __call__(self, args: argparse.Namespace) -> int:
        settings = args.settings
        spec = load_spec(args.spec, limits=settings.limits)
        setup = prepare_run(spec, settings, folder=os.path.dirname(args.spec) or ".")
        storage = Storage(args.db)
        bar = _ProgressBar(spec, disable=args.no_progress)
        runner = setup.open(storage, on_event=bar.update)
        storage.set_state(spec.name, StudyState.RUNNING)  # a stopped study runs again
        bar.start(sum(t.state.finished for t in storage.trials(spec.name)))

        def request_stop(signum: int, frame: object) -> None:
            runner.stop()  # the runner stops at its next safe point; a second signal is immediate
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, _raise_interrupt)

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            progress = runner.run()
        except (Stopped, KeyboardInterrupt):
            bar.close()
            if runner.stop_requested:  # stopped here (Ctrl-C), not by 'tuner stop'
                storage.set_state(spec.name, StudyState.STOPPED)
            print(
                f"\nstopped: run 'tuner run {args.spec}' again to go on where it stopped",
                file=sys.stderr,
            )
            return 130
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            runner.executor.shutdown(cancel_running=True)
        bar.finish(progress.done)
        failed = storage.count_trials(spec.name, states=[TrialState.FAILED])
        complete = storage.count_trials(spec.name, states=[TrialState.COMPLETE])
        print(
            f"study {spec.name}: {progress.done} trials done"
            + (f" ({failed} failed)" if failed else "")
        )
        output.leaderboard(storage, spec.name, args.top)
        if complete == 0:
            print(
                f"error: no trial of {spec.name} completed: see why with "
                f"'tuner trials {spec.name} --state failed'",
                file=sys.stderr,
            )
            return 1
        if spec.promote is not None and storage.study_state(spec.name) is StudyState.COMPLETE:
            from tuner.promotion import promote_at_end

            print(promote_at_end(storage, spec, settings, setup.paths))
        return 0


class _ProgressBar:
    """tqdm over the plan's trials, with the round and the best value so far."""

    def __init__(self, spec: StudySpec, disable: bool) -> None:
        self.spec = spec
        self.disable = disable
        self.bar: Any = None

    def start(self, done: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=self.spec.total_trials,
            initial=done,
            desc=self.spec.name,
            unit="trial",
            disable=self.disable,
            dynamic_ncols=True,
        )

    def update(self, event: RunEvent) -> None:
        if self.bar is None:
            return
        progress = event.progress
        self.bar.total = progress.planned
        self.bar.n = progress.done
        best = progress.best
        self.bar.set_postfix(
            round=f"{min(progress.round + 1, progress.rounds)}/{progress.rounds}",
            best="-" if best is None else f"{best.value:.6g}",
            refresh=False,
        )
        self.bar.refresh()

    def finish(self, done: int) -> None:
        if self.bar is not None:
            self.bar.n = done
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _raise_interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt
