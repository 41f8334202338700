"""``tuner token create | list | revoke``: the API's tokens, each of one project and role."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta

from tuner.cli import database_option
from tuner.commands import output
from tuner.storage import Storage


class TokenCommand:
    help = "manage API tokens (create prints a new one once)"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(required=True, metavar="ACTION")
        create = sub.add_parser("create", help="print a new token once")
        database_option(create)
        create.add_argument("--project", default="default")
        create.add_argument("--role", choices=["read", "write", "admin"], default="write")
        create.add_argument("--label", default="")
        create.add_argument(
            "--expires",
            type=duration,
            default=None,
            metavar="DURATION",
            help="it stops working after this long: 90s, 30m, 12h, 30d, 8w",
        )
        create.set_defaults(action=self.create)
        listing = sub.add_parser("list", help="list tokens (not their secrets)")
        database_option(listing)
        listing.set_defaults(action=self.list)
        revoke = sub.add_parser("revoke", help="revoke a token by id")
        database_option(revoke)
        revoke.add_argument("id", type=int)
        revoke.set_defaults(action=self.revoke)

    def __call__(self, args: argparse.Namespace) -> int:
        return int(args.action(args))

    def create(self, args: argparse.Namespace) -> int:
        secret, token = Storage(args.db).tokens.create(
            args.project, args.role, args.label, args.expires
        )
        print(secret)
        until = f", expires {_when(token.expires_at)}" if token.expires_at else ""
        print(
            f"token {token.id}: project {token.project}, role {token.role}{until} "
            "(shown only once)",
            file=sys.stderr,
        )
        return 0

    def list(self, args: argparse.Namespace) -> int:
        rows = [
            [
                t.id,
                t.project,
                t.role,
                t.state,
                t.label,
                _when(t.created_at),
                _when(t.expires_at),
                _when(t.last_used_at),
            ]
            for t in Storage(args.db, must_exist=True).tokens.list()
        ]
        output.table(
            ["id", "project", "role", "state", "label", "created", "expires", "last used"], rows
        )
        return 0

    def revoke(self, args: argparse.Namespace) -> int:
        token = Storage(args.db, must_exist=True).tokens.revoke(args.id)
        print(
            f"token {token.id} ({token.project}, {token.role}) revoked: every server refuses "
            "it now (within 5 s for a server on the same SQLite file)"
        )
        return 0


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration(text: str) -> timedelta:
    """An argparse type: ``90s``, ``30m``, ``12h``, ``30d``, ``8w`` (a bare number: seconds)."""
    number, unit = (text[:-1], text[-1]) if text and text[-1] in _UNITS else (text, "s")
    try:
        value = float(number)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 30d, 12h, 90s")
    return timedelta(seconds=value * _UNITS[unit])


def _when(t: datetime | None) -> str:
    return "-" if t is None else t.astimezone().isoformat(timespec="seconds")
