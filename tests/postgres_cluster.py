"""A private PostgreSQL cluster for the tests that stop the database (never the machine's shared
one): initdb and pg_ctl under a temp folder, as user postgres, on a free loopback port."""

from __future__ import annotations

import glob
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.api.server import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"PostgreSQL's {name} is not installed (Debian's postgresql package)"
    return found[-1]


def _as_postgres(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, timeout=120
    )


class PrivateCluster:
    """``start()``, ``stop()`` (immediately: clients lose their connections), ``url``."""

    def __init__(self) -> None:
        # a folder the postgres user can reach (pytest's temporary folders are root's alone)
        folder = Path(tempfile.mkdtemp(prefix="tuner-pg-"))
        folder.chmod(0o755)
        shutil.chown(folder, "postgres", "postgres")
        self.folder = folder / "pgdata"
        self.log = folder / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        done = _as_postgres(
            _bin("initdb"), "-D", str(self.folder), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        assert done.returncode == 0, done.stderr
        with open(self.folder / "postgresql.conf", "a") as fh:
            fh.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                "unix_socket_directories = ''\nfsync = off\n"
            )

    def start(self) -> None:
        done = _as_postgres(
            _bin("pg_ctl"), "-D", str(self.folder), "-l", str(self.log), "-w", "start"
        )
        assert done.returncode == 0, done.stderr + self.log.read_text()
        deadline = time.monotonic() + 30
        while (
            subprocess.run(
                [_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
            ).returncode
            != 0
        ):
            assert time.monotonic() < deadline, "the private PostgreSQL did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        done = _as_postgres(_bin("pg_ctl"), "-D", str(self.folder), "-m", "immediate", "-w", "stop")
        assert done.returncode == 0, done.stderr

    def database(self) -> str:
        """The URL of a new empty database of the cluster."""
        import uuid

        import sqlalchemy as sa

        name = f"t_{uuid.uuid4().hex[:10]}"
        engine = sa.create_engine(
            self.url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def destroy(self) -> None:
        _as_postgres(_bin("pg_ctl"), "-D", str(self.folder), "-m", "immediate", "stop")
        shutil.rmtree(self.folder.parent, ignore_errors=True)
