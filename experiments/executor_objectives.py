"""Objectives of the executor benchmarks: a no-op and a one-second sleep."""

from __future__ import annotations

import time
from typing import Any


def noop(params: dict[str, Any]) -> float:
    return 0.0


def sleep_one(params: dict[str, Any]) -> float:
    time.sleep(1.0)
    return 1.0
