"""The REST API (FastAPI): studies, the worker protocol, tokens. Build it with ``create_app``."""

from tuner.api.app import create_app

__all__ = ["create_app"]
