"""The Tuner client: depends on httpx and the standard library only, never on the server.

    from client import TunerClient
    study = TunerClient().create_study("study.yaml")
    study.optimize(train, n_trials=50, workers=4)
"""

from client.http import TrialLost, TunerAPIError
from client.tuner_client import Study, StudyComplete, Trial, TunerClient

__all__ = ["Study", "StudyComplete", "Trial", "TrialLost", "TunerAPIError", "TunerClient"]
