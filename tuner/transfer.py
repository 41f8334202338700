"""Studies as JSON lines: export one to keep or share, import it into any database, and migrate
every study and token from one database to another (SQLite to PostgreSQL, say), checked by
counts and a digest of what was moved.

An export is a ``study`` line (name, project, state, round, spec) and a ``trial`` line per trial
(``Trial.to_dict``), so it reads as the CLI's and the API's JSON do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tuner.errors import Conflict, SpecError, TunerError
from tuner.projects import qualified, split
from tuner.storage import Storage, StudyRecord
from tuner.study import StudySpec, StudyState
from tuner.trial import Trial

FORMAT = "tuner-export"
VERSION = 1


@dataclass(frozen=True)
class ExportedStudy:
    """A study as an export holds it."""

    name: str
    project: str
    spec: StudySpec
    state: StudyState
    round: int  # stored from 0
    created_at: datetime
    trials: tuple[Trial, ...]


def export_lines(storage: Storage, key: str) -> Iterator[dict[str, Any]]:
    """The lines of study ``key``'s export: the study, then its trials by number."""
    record = storage.get_study(key)
    project, name = split(record.name)
    yield {
        "kind": "study",
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "project": project,
        "state": record.state.value,
        "round": record.round + 1,
        "created_at": record.created_at.isoformat(),
        "spec": record.spec.to_dict(),
    }
    for trial in storage.trials(key):
        yield {"kind": "trial", **trial.to_dict()}


def read_export(lines: Iterable[str], source: str = "export") -> ExportedStudy:
    """An export read back; a SpecError names the line that is not one."""
    study: dict[str, Any] | None = None
    trials: list[Trial] = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{i}"
        try:
            item = json.loads(line)
            if study is None:
                if item.get("kind") != "study" or item.get("format") != FORMAT:
                    raise SpecError(where, f"is not the first line of a {FORMAT} file")
                if item.get("version") != VERSION:
                    raise SpecError(where, f"version {item.get('version')} is not {VERSION}")
                study = item
            elif item.get("kind") == "trial":
                trials.append(Trial.from_dict(item))
            else:
                raise SpecError(where, "is neither a study nor a trial line")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SpecError(where, f"is not a line of an export ({exc})") from None
    if study is None:
        raise SpecError(source, "is empty")
    try:
        spec = StudySpec.from_dict(study["spec"], check=False)
    except SpecError as exc:
        raise exc.within(f"{source}:1.spec") from None
    return ExportedStudy(
        name=study["name"],
        project=study["project"],
        spec=spec,
        state=StudyState(study["state"]),
        round=int(study["round"]) - 1,
        created_at=datetime.fromisoformat(study["created_at"]),
        trials=tuple(trials),
    )


def import_study(
    storage: Storage, exported: ExportedStudy, name: str | None = None, project: str | None = None
) -> StudyRecord:
    """Store an exported study (as ``name`` in ``project`` if given); Conflict if it exists."""
    from dataclasses import replace

    new_name = name or exported.name
    spec = (
        replace(exported.spec, name=new_name) if new_name != exported.spec.name else (exported.spec)
    )
    key = qualified(project or exported.project, new_name)
    trials = [replace(t, study=key) for t in exported.trials]
    return storage.import_study(
        key, spec, exported.state, exported.round, exported.created_at, trials
    )


def digest(storage: Storage, key: str) -> str:
    """A SHA-256 of a study's content (its spec, state, round and every trial as exported):
    equal on two databases when the study was moved whole."""
    h = hashlib.sha256()
    for line in export_lines(storage, key):
        line = {k: v for k, v in line.items() if k not in ("study", "duration")}
        h.update(json.dumps(line, sort_keys=True, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()


@dataclass(frozen=True)
class Migration:
    """What ``migrate`` moved, and the digest over all of it (the same on both sides)."""

    studies: int
    trials: int
    tokens: int
    digest: str


def migrate(source: Storage, target: Storage) -> Migration:
    """Copy every study (with its trials) and every token from ``source`` to ``target`` and
    check each study's digest on both sides. The target must not hold a study of the same name:
    nothing is copied then (Conflict names them)."""
    keys = [s.name for s in source.list_studies()]
    taken = sorted(set(keys) & {s.name for s in target.list_studies()})
    if taken:
        raise Conflict(f"the target already has studies {', '.join(taken[:10])}: nothing copied")
    total = hashlib.sha256()
    trials = 0
    for key in keys:
        lines = [json.dumps(x) for x in export_lines(source, key)]
        exported = read_export(lines, key)
        project, name = split(key)
        import_study(target, exported, name, project)
        before, after = digest(source, key), digest(target, key)
        if before != after:
            raise TunerError(f"study {key!r} differs after the copy ({before} != {after})")
        total.update(after.encode())
        trials += len(exported.trials)
    tokens = target.tokens.restore(source.tokens.rows())
    return Migration(len(keys), trials, tokens, total.hexdigest())
