"""The ``tuner`` command line: a dispatcher over sub-commands found by name.

Every sub-command, the core's own included, is a plug-in of the ``tuner.commands`` entry-point
group (``run = "tuner.commands.run:RunCommand"``): ``serve`` lives with the API and ``worker``
with the client, so ``tuner run`` never imports a web framework or an HTTP client. Only the
command asked for is loaded (all of them for ``tuner --help``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Protocol

from tuner import plugins
from tuner.config import Settings, SettingsError
from tuner.errors import SpecError, TunerError


class Command(Protocol):
    """A ``tuner`` sub-command: ``configure`` adds its arguments, calling it runs it and gives
    the exit status (0 done, 1 failed, 2 a mistake in what the user gave)."""

    help: str

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def __call__(self, args: argparse.Namespace) -> int: ...


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        settings = Settings.from_env()
        args = _parser(settings, argv).parse_args(argv)
        args.settings = settings
        return int(args.command(args) or 0)
    except (SpecError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TunerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `tuner ... | head`: the reader has gone, so has our output
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):
            first = str(exc).strip().splitlines()[0]
            print(f"error: database: {first}", file=sys.stderr)
            return 1
        raise


def database_option(parser: argparse.ArgumentParser) -> None:
    """The ``--db URL`` every command that opens the database takes."""
    settings: Settings = parser.get_default("settings") or Settings.from_env()
    parser.add_argument(
        "--db",
        default=settings.database_url,
        metavar="URL",
        help="database URL: sqlite:///file.db or postgresql://user@host:port/db (default: "
        "$TUNER_DATABASE_URL, else sqlite:///tuner.db)",
    )


def _parser(settings: Settings, argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuner", description="Hyperparameter tuning as a service."
    )
    parser.set_defaults(settings=settings)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    wanted = next((a for a in argv if not a.startswith("-")), None)
    available = plugins.commands()
    for name in available:
        if wanted is None or wanted == name:
            command: Command = plugins.command(name)()
            p = sub.add_parser(name, help=command.help, description=command.help)
            p.set_defaults(command=command, settings=settings)
            command.configure(p)
        else:  # named so that argparse knows it; configured only when asked for
            sub.add_parser(name)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
