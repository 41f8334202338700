"""The Tuner client: depends on httpx and the standard library only, never on the server.

from tuner.client import TunerClient
study = TunerClient().create_study("study.yaml")
study.optimize(train, n_trials=50, workers=4)
"""

from tuner.client.http import TrialLost, TunerAPIError
from tuner.client.study import Study
from tuner.client.trial import StudyComplete, StudyStopped, Trial, TrialPruned
from tuner.client.tuner_client import TunerClient
from tuner.client.work import WorkersFailed

__all__ = [
    "Study",
    "StudyComplete",
    "StudyStopped",
    "Trial",
    "TrialLost",
    "TrialPruned",
    "TunerAPIError",
    "TunerClient",
    "WorkersFailed",
]
