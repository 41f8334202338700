"""The one storage face, the same code on SQLite and PostgreSQL, split by concept:
studies (``studies.py``), reading trials (``trials.py``), the worker protocol (``protocol.py``),
a study locked for the scheduler (``locked.py``), whole studies in and out (``transfer.py``),
server-side runs and their leases (``runs.py``), what watching pages read (``activity.py``),
tokens (``tokens.py``) and the model registry (``models.py``)."""

from __future__ import annotations

from tuner.storage.activity import StudyActivity
from tuner.storage.locked import StudyLocking
from tuner.storage.models import ModelStorage
from tuner.storage.protocol import WorkerProtocol
from tuner.storage.runs import RunLeases
from tuner.storage.studies import StudyRepository
from tuner.storage.tokens import TokenStore
from tuner.storage.transfer import StudyTransfer
from tuner.storage.trials import TrialReader


class Storage(
    StudyRepository,
    TrialReader,
    WorkerProtocol,
    StudyLocking,
    StudyTransfer,
    RunLeases,
    ModelStorage,
    StudyActivity,
):
    """Studies, trials, tokens and registered models in a database named by a SQLAlchemy URL
    (``must_exist``: an SQLite file must be there already, for commands that only read)."""

    def __init__(self, url: str, must_exist: bool = False) -> None:
        super().__init__(url, must_exist=must_exist)
        self.tokens = TokenStore(self.engine)
