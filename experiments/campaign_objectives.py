"""The objective of the fault campaign's studies: a short, seeded sleep, then a quadratic."""

from __future__ import annotations

import random
import time
from typing import Any


def work(params: dict[str, Any]) -> float:
    time.sleep(random.Random(repr(sorted(params.items()))).uniform(0.2, 0.8))
    return (params["x"] - 1.0) ** 2 + params["n"]
