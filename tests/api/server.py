"""A real ``tuner serve`` (uvicorn) on a free loopback port, for the API and client tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# What the shared test servers let write tokens run: the test suite's own objectives.
RUNS_ALLOWED = ("--allow-runs", "--allow-function", "tests")


class ServerProcess:
    """``tuner serve`` in a child process; its first-start admin token is read back."""

    def __init__(
        self,
        db: str,
        config_dir: Path,
        lease: float = 2.0,
        port: int | None = None,
        args: tuple[str, ...] = (),
        cwd: Path = REPO,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.db = db
        self.tls = tls  # (certificate, key): serve HTTPS
        tls_args = ("--ssl-certfile", str(tls[0]), "--ssl-keyfile", str(tls[1])) if tls else ()
        self.args = (*args, *tls_args)
        self.cwd = cwd
        self.config_dir = config_dir
        self.port = port or free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "TUNER_CONFIG_DIR": str(config_dir),
            "TUNER_LEASE_SECONDS": str(lease),
            "TUNER_TEST_SLEEP": "0",
            "TUNER_ARTIFACTS_DIR": str(config_dir / "artifacts"),
        }
        self.proc: subprocess.Popen[str] | None = None
        self.log = config_dir / f"server-{self.port}.log"

    def start(self) -> ServerProcess:
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tuner.cli",
                    "serve",
                    "--port",
                    str(self.port),
                    "--db",
                    self.db,
                    *self.args,
                ],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        deadline = time.monotonic() + 120  # a loaded machine (parallel test files) starts slowly
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                verify = str(self.tls[0]) if self.tls else True
                if httpx.get(f"{self.url}/healthz", timeout=1, verify=verify).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()  # never leave a server running behind a failed start
        raise AssertionError(f"server did not start:\n{self.log.read_text()}")

    @property
    def token(self) -> str:
        return str(json.loads((self.config_dir / "credentials.json").read_text())["token"])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tuner(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a ``tuner`` CLI command against this server's database and config."""
        return subprocess.run(
            [sys.executable, "-m", "tuner.cli", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def worker(
        self, study: str, objective: str, *extra: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tuner.cli",
                "worker",
                study,
                "--objective",
                objective,
                "--url",
                self.url,
                "--token",
                self.token,
                *extra,
            ],
            cwd=REPO,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
