"""The online prediction server (``tuner serve-models``): registered models over KServe v1 and
the Open Inference Protocol (REST and gRPC), swapped by push and pull. ``create_prediction_app``
is in ``tuner.api.prediction.app``."""
