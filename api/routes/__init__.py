"""The REST routes of ``/api/v1``."""
