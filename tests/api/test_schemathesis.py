"""Schemathesis over the live server's /openapi.json: no 5xx, no response that breaks the
documented schema, statuses and content types, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.api.server import ServerProcess

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "unsupported_method",
    ]
)


def test_schemathesis_finds_no_server_error_or_schema_violation(server: ServerProcess) -> None:
    st = shutil.which("st", path=str(Path(__import__("sys").executable).parent))
    assert st, "schemathesis is a dev dependency: make test installs it"
    out = subprocess.run(
        [
            st,
            "run",
            f"{server.url}/openapi.json",
            "-H",
            f"Authorization: Bearer {server.token}",
            "--checks",
            CHECKS,
            "--max-examples",
            "25",
            "--workers",
            "1",
            "--seed",
            "1",
            "--max-time",
            "60",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-6000:]
