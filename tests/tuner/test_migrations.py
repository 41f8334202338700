"""Schema migrations: from every earlier revision, with data, up to the head and back one step,
on SQLite and PostgreSQL; nothing is lost on the way."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from tests.specs import make_spec
from tuner.storage import Storage
from tuner.storage.engine import _MIGRATIONS, HEAD, current_revision, normalise_url


def _config(conn: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def revisions() -> list[str]:
    """Every revision, oldest first."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_the_chain_ends_at_the_head_the_code_expects() -> None:
    assert revisions()[-1] == HEAD and len(set(revisions())) == len(revisions())


@pytest.mark.parametrize("start", revisions()[:-1])
def test_from_an_earlier_revision_with_data_to_the_head_and_back(
    database_url: str, start: str
) -> None:
    engine = sa.create_engine(normalise_url(database_url))
    with engine.begin() as conn:
        command.upgrade(_config(conn), start)
        conn.execute(
            sa.text(
                "INSERT INTO studies (id, name, spec, state, round, revision, created_at, "
                "updated_at) VALUES (1, 'old', :spec, 'running', 0, 0, :t, :t)"
            ),
            {"spec": json.dumps(make_spec("old").to_dict()), "t": "2026-01-01 00:00:00"},
        )
        conn.execute(
            sa.text(
                "INSERT INTO trials (study_id, number, round, params, state, attempt, "
                'failures, losses, value, "values", intermediate, attempt_log, created_at) '
                "VALUES (1, 0, 0, :p, 'complete', 1, 0, 0, 0.5, '{}', '[]', '[]', :t)"
            ),
            {"p": '{"x": 0.5, "n": 2, "kind": "a"}', "t": "2026-01-01 00:00:00"},
        )
        if sa.inspect(conn).has_table("tokens"):
            conn.execute(
                sa.text(
                    "INSERT INTO tokens (digest, project, role, label, created_at) "
                    "VALUES ('d' , 'p', 'read', 'old', :t)"
                ),
                {"t": "2026-01-01 00:00:00"},
            )
    engine.dispose()
    storage = Storage(database_url)  # brings it to the head
    (trial,) = storage.trials("old")
    assert trial.value == 0.5 and trial.params["n"] == 2
    storage.close()
    previous = revisions()[-2]
    with engine.begin() as conn:
        command.downgrade(_config(conn), previous)
        assert current_revision(conn) == previous
        assert conn.execute(sa.text("SELECT count(*) FROM trials")).scalar() == 1
        command.upgrade(_config(conn), "head")
        assert current_revision(conn) == HEAD
    engine.dispose()
    again = Storage(database_url)
    assert again.trials("old")[0].value == 0.5
    again.close()


def test_0012_fills_in_the_violation_of_trials_stored_before_it(database_url: str) -> None:
    """Trials with constraints stored before the violation column get theirs from their values,
    so the study listing's best is of feasible trials from the first start on 0012."""
    engine = sa.create_engine(normalise_url(database_url))
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0011")
        conn.execute(
            sa.text(
                "INSERT INTO studies (id, name, spec, state, round, revision, created_at, "
                "updated_at) VALUES (1, 'old', :spec, 'running', 0, 0, :t, :t)"
            ),
            {"spec": json.dumps(make_spec("old").to_dict()), "t": "2026-01-01 00:00:00"},
        )
        for number, value, values in [
            (0, 0.5, {"value": 0.5, "constraint.0": -1.0, "constraint.1": 0.25}),
            (1, 2.0, {"value": 2.0, "constraint.0": -1.0}),
            (2, 3.0, {"value": 3.0}),
        ]:
            conn.execute(
                sa.text(
                    "INSERT INTO trials (study_id, number, round, params, state, attempt, "
                    'failures, losses, value, "values", intermediate, attempt_log, meta, '
                    "created_at) VALUES (1, :n, 0, '{}', 'complete', 1, 0, 0, :v, :vs, '[]', "
                    "'[]', '{}', :t)"
                ),
                {"n": number, "v": value, "vs": json.dumps(values), "t": "2026-01-01 00:00:00"},
            )
    engine.dispose()
    storage = Storage(database_url)
    assert storage.study_summary("old").best_value == 2.0
    assert [t.value for t in storage.leaderboard("old")] == [2.0, 3.0, 0.5]
    storage.close()
    with engine.begin() as conn:
        got = conn.execute(sa.text("SELECT number, violation FROM trials ORDER BY number")).all()
    engine.dispose()
    assert [tuple(r) for r in got] == [(0, 0.25), (1, 0.0), (2, 0.0)]
