"""Moving studies: export to a file and import it, and migrate a whole SQLite database to
PostgreSQL (and back), with counts and digests equal on both sides."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, drop_postgres_schema, postgres_schema_url
from tests.specs import make_spec
from tuner.errors import Conflict, SpecError
from tuner.executor import TrialOutcome
from tuner.scheduler import Scheduler
from tuner.storage import Storage
from tuner.transfer import digest, export_lines, import_study, migrate, read_export
from tuner.trial import TrialState


def busy_study(storage: Storage, name: str) -> None:
    """A study with complete, failed, retried, lost, running and waiting trials."""
    storage.create_study(make_spec(name, retries=1))
    scheduler = Scheduler(storage)
    scheduler.top_up(name, want=6)
    storage.tokens.create("vision", "write", "ci")
    outcomes = [
        TrialOutcome(
            TrialState.COMPLETE, value=1.5, values={"value": 1.5}, intermediate=((0, 2.0), (1, 1.5))
        ),
        TrialOutcome.failure("boom"),
        TrialOutcome.failure("boom again"),
    ]
    for outcome in outcomes:
        t = storage.claim(name, "w", 60)
        storage.finish(name, t.number, t.attempt, outcome, 2)
    t = storage.claim(name, "w", 60)
    storage.requeue(name, t.number, t.attempt, "lost: gone", lost=True)
    storage.claim(name, "w2", 60)  # left running


def test_export_then_import_elsewhere_keeps_every_trial(database_url: str, tmp_path: Path) -> None:
    source = Storage(f"sqlite:///{tmp_path / 'source.db'}")
    busy_study(source, "moved")
    lines = [json.dumps(x) for x in export_lines(source, "moved")]
    target = Storage(database_url)
    imported = import_study(target, read_export(lines, "moved.jsonl"))
    assert imported.name == "moved" and digest(target, "moved") == digest(source, "moved")
    assert [t.attempts for t in target.trials("moved")] == [
        t.attempts for t in source.trials("moved")
    ]
    # the imported study goes on like the original: a failed trial's retry, the queue
    retried = target.claim("moved", "w3", 60)
    assert retried is not None
    again = import_study(target, read_export(lines, "moved.jsonl"), name="copy", project="vision")
    assert again.name == "vision/copy" and len(target.trials("vision/copy")) == len(lines) - 1
    with pytest.raises(Conflict):
        import_study(target, read_export(lines, "moved.jsonl"))


def test_a_broken_export_names_its_line() -> None:
    with pytest.raises(SpecError) as info:
        read_export(
            ['{"kind": "study", "format": "tuner-export", "version": 1}', "not json"], "x.jsonl"
        )
    assert info.value.field == "x.jsonl:2"
    with pytest.raises(SpecError) as info:
        read_export(['{"kind": "trial"}'], "y.jsonl")
    assert info.value.field == "y.jsonl:1"


def test_migrate_sqlite_to_postgresql_and_back(tmp_path: Path) -> None:
    sqlite = f"sqlite:///{tmp_path / 'first.db'}"
    source = Storage(sqlite)
    busy_study(source, "a")
    busy_study(source, "b")
    url, schema = postgres_schema_url()
    try:
        moved = migrate(source, Storage(url))
        assert (moved.studies, moved.trials, moved.tokens) == (2, 12, 2)
        target = Storage(url)
        assert [s.name for s in target.list_studies()] == ["a", "b"]
        secret, _ = target.tokens.create("p", "read")
        assert target.tokens.verify(secret) is not None
        with pytest.raises(Conflict):
            migrate(source, target)  # nothing copied twice
        back = Storage(f"sqlite:///{tmp_path / 'back.db'}")
        assert migrate(target, back).digest == moved.digest
    finally:
        drop_postgres_schema(schema)


def test_the_commands(tmp_path: Path) -> None:
    db, other = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    busy_study(Storage(db), "cli")

    def tuner(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tuner.cli", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )

    file = tmp_path / "cli.jsonl"
    assert tuner("export", "cli", "--db", db, "-o", str(file)).returncode == 0
    done = tuner("import", str(file), "--db", other, "--name", "again")
    assert done.returncode == 0 and "study again imported: 6 trials" in done.stdout
    moved = tuner("migrate", "--from", db, "--to", other)
    assert moved.returncode == 0 and "copied 1 studies, 6 trials and 1 tokens" in moved.stdout
    clash = tuner("migrate", "--from", db, "--to", other)
    assert clash.returncode == 1 and "already has studies cli" in clash.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{}\n")
    bad = tuner("import", str(broken), "--db", other)
    assert bad.returncode == 2 and bad.stderr.startswith(f"error: {broken}:1:")
