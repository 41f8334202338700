"""Commands on stored studies: list them, show a leaderboard or the trials, export, stop,
resume, delete."""

from __future__ import annotations

import argparse
import json
import sys

from tuner.cli import database_option
from tuner.commands import output
from tuner.errors import SpecError
from tuner.storage import Storage
from tuner.study import StudyState
from tuner.trial import TrialState


def positive(text: str) -> int:
    """An argparse type: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def reading(args: argparse.Namespace) -> Storage:
    """The database of a command that only reads or changes what exists: never a new file."""
    return Storage(args.db, must_exist=True)


class StudiesCommand:
    help = (
        "list studies: state, round, trials done/planned, best value (several metrics: the "
        "hypervolume of the front)"
    )

    def configure(self, parser: argparse.ArgumentParser) -> None:
        database_option(parser)
        parser.add_argument("--json", action="store_true", help="a JSON array")

    def __call__(self, args: argparse.Namespace) -> int:
        storage = reading(args)
        summaries = storage.list_studies()
        # several metrics: no single best value; the hypervolume of the front and each direction
        several = {
            s.name: (storage.hypervolume(s.name), [d for _, d in s.objectives])
            for s in summaries
            if s.objectives
        }
        if args.json:
            print(
                json.dumps(
                    [
                        {
                            "name": s.name,
                            "state": s.state.value,
                            "stop_reason": s.stop_reason,
                            "round": min(s.round + 1, s.rounds),
                            "rounds": s.rounds,
                            "done": s.done,
                            "planned": s.planned,
                            "running": s.running,
                            "best_value": s.best_value,
                            "direction": s.direction,
                        }
                        | (
                            {"hypervolume": several[s.name][0], "directions": several[s.name][1]}
                            if s.name in several
                            else {}
                        )
                        for s in summaries
                    ],
                    indent=2,
                )
            )
            return 0
        rows = [
            [
                s.name,
                s.state.value + (f" ({s.stop_reason})" if s.stop_reason else ""),
                f"{min(s.round + 1, s.rounds)}/{s.rounds}",
                f"{s.done}/{s.planned}",
                output.number(s.best_value)
                if s.name not in several
                else f"hv {output.number(several[s.name][0])}",
                s.direction if s.name not in several else ", ".join(several[s.name][1]),
            ]
            for s in summaries
        ]
        output.table(["study", "state", "round", "trials", "best", "direction"], rows)
        return 0


class LeaderboardCommand:
    help = "a study's complete trials, best first"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        database_option(parser)
        parser.add_argument("name")
        parser.add_argument(
            "--top", type=positive, default=None, metavar="K", help="the K best only"
        )
        parser.add_argument("--json", action="store_true", help="a JSON array")

    def __call__(self, args: argparse.Namespace) -> int:
        storage = reading(args)
        if args.json:
            print(
                json.dumps(
                    [
                        {**r.trial.to_dict(), "front": r.front}
                        for r in storage.ranked(args.name, args.top)
                    ],
                    indent=2,
                )
            )
            return 0
        output.leaderboard(storage, args.name, args.top)
        return 0


class TrialsCommand:
    help = "a study's trials by number, with their attempts and errors"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        database_option(parser)
        parser.add_argument("name")
        parser.add_argument("--state", choices=[s.value for s in TrialState])
        parser.add_argument("--json", action="store_true", help="a JSON array")

    def __call__(self, args: argparse.Namespace) -> int:
        states = [TrialState(args.state)] if args.state else None
        trials = reading(args).trials(args.name, states=states)
        if args.json:
            print(json.dumps([t.to_dict() for t in trials], indent=2))
            return 0
        rows = [
            [
                t.number,
                output.round_of(t),
                t.state.value,
                output.number(t.value),
                t.attempt,
                output.params(t.params),
                (t.error or "").strip().splitlines()[0][:60] if t.error else "",
            ]
            for t in trials
        ]
        output.table(["#", "round", "state", "value", "attempts", "params", "error"], rows)
        return 0


class StopCommand:
    help = "stop a study: its runners put their running trials back and stop within a second"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        database_option(parser)
        parser.add_argument("name")

    def __call__(self, args: argparse.Namespace) -> int:
        record = reading(args).set_state(args.name, StudyState.STOPPED)
        if record.state is StudyState.COMPLETE:
            print(f"study {args.name} is complete: nothing to stop")
            return 0
        print(
            f"study {args.name} stopped: its runners stop within a second and remote workers "
            f"get no more trials; 'tuner run FILE' or 'tuner resume {args.name}' goes on"
        )
        return 0


class ResumeCommand:
    help = "let a stopped study's trials be claimed again (by remote workers, say)"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        database_option(parser)
        parser.add_argument("name")

    def __call__(self, args: argparse.Namespace) -> int:
        record = reading(args).set_state(args.name, StudyState.RUNNING)
        print(f"study {args.name} is {record.state.value}")
        return 0


class DeleteCommand:
    help = "delete a study and all its trials"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        database_option(parser)
        parser.add_argument("name")
        parser.add_argument("--yes", action="store_true", help="do not ask")

    def __call__(self, args: argparse.Namespace) -> int:
        storage = reading(args)
        count = storage.count_trials(args.name)
        if not args.yes:
            if not sys.stdin.isatty():
                raise SpecError(
                    "--yes",
                    f"deleting study {args.name} and its {count} trials "
                    "needs --yes when not asked on a terminal",
                )
            answer = input(f"delete study {args.name} and its {count} trials? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing deleted")
                return 1
        storage.delete_study(args.name)
        print(f"study {args.name} deleted ({count} trials)")
        return 0
