"""``tuner token create | list | revoke``: the API's tokens, each of one project and role."""

from __future__ import annotations

import argparse
import sys

from tuner.cli import database_option
from tuner.commands import output
from tuner.errors import NotFound
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
        secret, token = Storage(args.db).tokens.create(args.project, args.role, args.label)
        print(secret)
        print(
            f"token {token.id}: project {token.project}, role {token.role} (shown only once)",
            file=sys.stderr,
        )
        return 0

    def list(self, args: argparse.Namespace) -> int:
        rows = [
            [t.id, t.project, t.role, t.label, t.created_at.isoformat(timespec="seconds")]
            for t in Storage(args.db, must_exist=True).tokens.list()
        ]
        output.table(["id", "project", "role", "label", "created"], rows)
        return 0

    def revoke(self, args: argparse.Namespace) -> int:
        if not Storage(args.db, must_exist=True).tokens.revoke(args.id):
            raise NotFound(f"no token {args.id}")
        return 0
