"""``tuner serve`` as a user starts it: what it says, and a second one that must not break the
first (a busy port fails before anything is written; stored credentials of a live server stay)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.api.server import ServerProcess, free_port
from tests.conftest import REPO


def test_serve_says_where_it_answers_and_what_it_may_run(tmp_path: Path) -> None:
    srv = ServerProcess(f"sqlite:///{tmp_path / 'a.db'}", tmp_path).start()
    try:
        srv.stop()
        said = srv.log.read_text()
        assert f"Tuner serving at {srv.url}" in said and f"{srv.url}/docs" in said
        assert "server-side runs: off" in said and "tnr_" in said
        assert "stored with this server's URL" in said
    finally:
        srv.stop()


def test_a_second_server_never_breaks_the_first_one_s_credentials(tmp_path: Path) -> None:
    first = ServerProcess(f"sqlite:///{tmp_path / 'first.db'}", tmp_path).start()
    try:
        stored = (tmp_path / "credentials.json").read_text()
        assert json.loads(stored)["url"] == first.url
        # the same port: it fails before it opens its database or writes anything
        other_db = tmp_path / "second.db"
        busy = subprocess.run(
            [
                sys.executable,
                "-m",
                "tuner.cli",
                "serve",
                "--port",
                str(first.port),
                "--db",
                f"sqlite:///{other_db}",
            ],
            cwd=REPO,
            env=first.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert busy.returncode == 1 and "cannot listen" in busy.stderr, busy.stderr
        assert "Traceback" not in busy.stderr and not other_db.exists()
        assert (tmp_path / "credentials.json").read_text() == stored
        # another port, another new database: it serves, and leaves the live server's file
        second = ServerProcess(f"sqlite:///{other_db}", tmp_path, port=free_port()).start()
        try:
            assert (tmp_path / "credentials.json").read_text() == stored
            said = second.log.read_text()
            assert f"points at the server running at {first.url}" in said
        finally:
            second.stop()
    finally:
        first.stop()
