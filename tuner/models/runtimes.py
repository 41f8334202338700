"""Which runtime scores a version: the framework's own (``native``) or onnxruntime (``onnx``).

When a version is exported (``tuner models export NAME:N --format onnx``) both runtimes are
raced on its example rows and the times are kept in the export's sidecar manifest: one row at a
time through ``Predictor.predict`` (what the embedded predictor and the prediction server do)
and a batch of ``BATCH_ROWS`` rows through ``Predictor.predict_batch`` (what ``tuner predict``
does), the two runtimes taking turns so that a busy machine slows both alike. ``runtime="auto"``
(the default everywhere) then picks, per use, the faster one of those that give the same
predictions: onnx only when its maximum absolute difference from the native predictions is
within tolerance, it was faster, and onnxruntime is installed here; native otherwise (and
always for a version without an export). ``native``, ``onnx`` and ``pmml`` (the PMML export in
the JPMML evaluator: for portability, never picked by ``auto``) force one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tuner.errors import SpecError

if TYPE_CHECKING:
    from tuner.models.onnx_export import OnnxExport
    from tuner.models.predictor import Predictor

RUNTIMES = ("auto", "native", "onnx", "pmml")
USES = ("row", "batch")
ROW_CALLS = 200  # one-row calls per runtime, in turns of TURN
TURN = 20
BATCH_ROWS = 10_000
BATCH_CALLS = 3


def checked(runtime: str) -> str:
    """``runtime`` if it is one of ``RUNTIMES``; ``SpecError`` on ``runtime`` else."""
    if runtime not in RUNTIMES:
        raise SpecError("runtime", f"must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    return runtime


def race(native: Predictor, onnx: Predictor, rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Median microseconds per call of each runtime on ``rows``: ``native_row``, ``onnx_row``
    (one row per call, cycling through ``rows``) and ``native_batch``, ``onnx_batch`` (the rows
    repeated to ``BATCH_ROWS``)."""
    import pandas as pd

    singles = [[dict(r)] for r in rows]
    frame = pd.DataFrame([dict(r) for r in rows])
    frame = pd.concat([frame] * (BATCH_ROWS // len(frame) + 1), ignore_index=True)
    frame = frame.head(BATCH_ROWS)
    times: dict[str, list[float]] = {}
    for who, predictor in (("native", native), ("onnx", onnx)):
        predictor.warm_up()
        predictor.predict_batch(frame)
        times[f"{who}_row"], times[f"{who}_batch"] = [], []
    for turn in range(ROW_CALLS // TURN):
        for who, predictor in (("native", native), ("onnx", onnx)):
            times[f"{who}_row"] += _timed(predictor.predict, singles, TURN, turn)
    for _ in range(BATCH_CALLS):
        for who, predictor in (("native", native), ("onnx", onnx)):
            times[f"{who}_batch"] += _timed(predictor.predict_batch, [frame], 1, 0)
    return {k: round(1e6 * statistics.median(v), 1) for k, v in times.items()}


def _timed(call: Callable[[Any], Any], args: list[Any], n: int, offset: int) -> list[float]:
    out = []
    for i in range(n):
        arg = args[(offset + i) % len(args)]
        start = time.perf_counter()
        call(arg)
        out.append(time.perf_counter() - start)
    return out


def choose(export: OnnxExport | None, use: str, tolerance: float) -> str:
    """``onnx`` when ``export`` gives the same predictions (within ``tolerance``) and was the
    faster for ``use`` (``row`` or ``batch``) when raced, and onnxruntime is installed here;
    ``native`` otherwise."""
    import importlib.util

    if use not in USES:
        raise ValueError(f"use must be one of {USES}, not {use!r}")
    if export is None or not export.max_abs_diff <= tolerance:
        return "native"
    native, onnx = export.timings.get(f"native_{use}"), export.timings.get(f"onnx_{use}")
    if native is None or onnx is None or not onnx < native:
        return "native"
    return "onnx" if importlib.util.find_spec("onnxruntime") is not None else "native"
