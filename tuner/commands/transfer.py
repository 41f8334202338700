"""``tuner export``, ``tuner import`` and ``tuner migrate``: studies as JSON lines, and every
study and token moved from one database to another."""

from __future__ import annotations

import argparse
import json
import sys

from tuner.cli import database_option
from tuner.commands.studies import reading
from tuner.errors import SpecError
from tuner.storage import Storage
from tuner.transfer import export_lines, import_study, migrate, read_export


class ExportCommand:
    help = "write a study and its trials as JSON lines (a file to keep, share or import)"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        database_option(parser)
        parser.add_argument("name")
        parser.add_argument("-o", "--output", metavar="FILE", help="default: standard output")

    def __call__(self, args: argparse.Namespace) -> int:
        lines = [json.dumps(x) for x in export_lines(reading(args), args.name)]
        text = "\n".join(lines) + "\n"
        if args.output:
            with open(args.output, "w") as fh:
                fh.write(text)
            print(
                f"study {args.name}: {len(lines) - 1} trials written to {args.output}",
                file=sys.stderr,
            )
        else:
            sys.stdout.write(text)
        return 0


class ImportCommand:
    help = "store a study written by 'tuner export' (as it was: state, trials, attempts)"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        database_option(parser)
        parser.add_argument("file", help="an export (JSON lines); - for standard input")
        parser.add_argument("--name", help="store it under another name")
        parser.add_argument("--project", help="store it in another project")

    def __call__(self, args: argparse.Namespace) -> int:
        try:
            text = sys.stdin.read() if args.file == "-" else open(args.file).read()
        except OSError as exc:
            raise SpecError(args.file, f"cannot read it ({exc.strerror})") from None
        exported = read_export(text.splitlines(), args.file)
        record = import_study(Storage(args.db), exported, args.name, args.project)
        print(f"study {record.name} imported: {len(exported.trials)} trials, {record.state.value}")
        return 0


class MigrateCommand:
    help = "copy every study and token from one database to another, checked by a digest"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--from", dest="source", required=True, metavar="URL")
        parser.add_argument("--to", dest="target", required=True, metavar="URL")

    def __call__(self, args: argparse.Namespace) -> int:
        source = Storage(args.source, must_exist=True)
        done = migrate(source, Storage(args.target))
        print(
            f"copied {done.studies} studies, {done.trials} trials and {done.tokens} tokens; "
            f"digest {done.digest[:16]} (the same on both sides)"
        )
        return 0
