"""Tokens: expiry, revocation heard by every server at once (PostgreSQL), last use, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

from tests.conftest import REPO
from tuner.errors import NotFound
from tuner.storage import Storage


@pytest.fixture
def storage(database_url: str) -> Storage:
    s = Storage(database_url)
    yield s
    s.close()


def test_an_expired_token_is_refused_at_once_even_when_remembered(storage: Storage) -> None:
    secret, token = storage.tokens.create("p", "write", expires_in=timedelta(seconds=1))
    assert storage.tokens.verify(secret) == storage.tokens.verify(secret)  # cached
    assert token.expires_at is not None and token.state == "live"
    time.sleep(1.2)
    assert storage.tokens.verify(secret) is None  # the cache does not keep it alive
    assert [t.state for t in storage.tokens.list()] == ["expired"]


def test_a_revoked_token_is_kept_marked_and_refused(storage: Storage) -> None:
    secret, token = storage.tokens.create("p", "read", "ci")
    assert storage.tokens.verify(secret) is not None
    revoked = storage.tokens.revoke(token.id)
    assert revoked.revoked_at is not None and revoked.state == "revoked"
    assert storage.tokens.verify(secret) is None
    assert [(t.id, t.state) for t in storage.tokens.list()] == [(token.id, "revoked")]
    with pytest.raises(NotFound):
        storage.tokens.revoke(token.id + 100)


def test_last_use_is_remembered(storage: Storage) -> None:
    secret, _ = storage.tokens.create("p", "read")
    assert storage.tokens.list()[0].last_used_at is None
    storage.tokens.verify(secret)
    assert storage.tokens.list()[0].last_used_at is not None


def test_every_replica_hears_a_revocation_at_once_on_postgresql(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        return  # replicas share a PostgreSQL database; SQLite is one server (covered above)
    one, two = Storage(database_url), Storage(database_url)
    stop = threading.Event()
    listening = threading.Thread(target=two.tokens.listen, args=(stop,), daemon=True)
    listening.start()
    try:
        secret, token = one.tokens.create("p", "write")
        assert two.tokens.verify(secret) is not None  # cached by the second replica
        time.sleep(0.5)  # the listener has connected
        one.tokens.revoke(token.id)
        deadline = time.monotonic() + 5
        while two.tokens.verify(secret) is not None:
            assert time.monotonic() < deadline, "the second replica never heard the revocation"
            time.sleep(0.05)
    finally:
        stop.set()
        listening.join(5)
        one.close()
        two.close()


def test_the_token_commands(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"

    def tuner(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tuner.cli", "token", *args, "--db", db],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            env=os.environ,
        )

    made = tuner("create", "--project", "vision", "--role", "read", "--expires", "30d")
    assert made.returncode == 0 and made.stdout.startswith("tnr_") and "expires" in made.stderr
    listing = tuner("list").stdout
    assert "vision" in listing and "live" in listing and "last used" in listing
    assert tuner("revoke", "1").returncode == 0
    assert "revoked" in tuner("list").stdout
    missing = tuner("revoke", "9")
    assert missing.returncode == 1 and missing.stderr.strip() == "error: no token 9"
    bad = tuner("create", "--expires", "soon")
    assert bad.returncode == 2 and "not a duration" in bad.stderr
