"""The ``spark`` flavor: a Spark ML ``PipelineModel`` (its feature stages inside: a
``StringIndexer``, a ``VectorAssembler``...), saved with Spark's own writer and read back with
``PipelineModel.load``. Made for batch scoring on Spark (``tuner predict --spark`` transforms the
input with the pipeline itself); in-process prediction works too, through a local Spark session
(the active one, else ``local[2]``, started at the first prediction): each call is a small Spark
job, tens of milliseconds at least, so it is for checks and small batches, not for serving.

What the pipeline predicts comes from its last stage: a probabilistic classifier gives
``probability`` (of class index 1 for two classes, one column per class for more), another
classifier ``label`` (the class index), anything else ``value`` (the ``prediction`` column).
The pipeline cannot tell its input columns itself: pass ``example=`` (the feature columns as a
pandas DataFrame) when saving.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

from tuner.models.flavor import Flavor, LoadedModel
from tuner.models.signature import Output, Signature

FOLDER = "pipeline"


class SparkFlavor(Flavor):
    """Takes a fitted ``pyspark.ml.PipelineModel`` (wrap a lone model in a Pipeline with its
    ``VectorAssembler``, so that raw columns go in)."""

    name = "spark"
    requires: ClassVar[dict[str, str]] = {"pyspark": "pyspark"}

    @classmethod
    def accepts(cls, model: object) -> bool:
        return any(
            c.__module__.startswith("pyspark.ml") and c.__name__ == "PipelineModel"
            for c in type(model).__mro__
        )

    def output(self, model: Any) -> Output:
        last: Any = model.stages[-1] if model.stages else None
        count = getattr(last, "numClasses", None)
        if count is None:
            return Output("value")
        classes = tuple(range(int(count)))
        if last.hasParam("probabilityCol") and last.getOrDefault("probabilityCol"):
            return Output("probability", classes)
        return Output("label", classes)

    def save(self, model: Any, folder: Path, signature: Signature) -> None:
        model.write().save(uri(folder / FOLDER))

    def load(self, folder: Path, signature: Signature) -> LoadedModel:
        return SparkModel(folder / FOLDER, signature)


def uri(path: Path) -> str:
    """A local path as Spark reads it whatever the default file system (``file://``)."""
    return path.resolve().as_uri()


def prediction(frame: Any, model: Any, output: Output) -> Any:
    """The Spark column of ``model.transform(frame)`` that ``Predictor.predict`` answers: the
    probability of class 1 (two classes), the probability vector as an array (more), or
    ``prediction`` (a label as an integer)."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    scored = model.transform(frame)
    if output.kind == "probability":
        proba = vector_to_array(F.col("probability"))
        return scored, (proba[1] if len(output.classes) == 2 else proba)
    column = F.col("prediction")
    return scored, (column.cast("long") if output.kind == "label" else column)


class SparkModel:
    """The pipeline at ``path``, loaded in this process's Spark session at the first call."""

    def __init__(self, path: Path, signature: Signature) -> None:
        self.path = path
        self.signature = signature
        self.output = signature.output
        self._model: Any = None
        self._lock = threading.Lock()

    def pipeline(self, spark: Any) -> Any:
        """The ``PipelineModel``, read once (in ``spark``'s session)."""
        with self._lock:
            if self._model is None:
                from pyspark.ml import PipelineModel

                self._model = PipelineModel.load(uri(self.path))
            return self._model

    def predict(self, frame: Any) -> Any:
        import numpy as np

        spark = session()
        categories = [c for c in frame.columns if str(frame[c].dtype) == "category"]
        plain = frame.astype({c: object for c in categories})
        rows = spark.createDataFrame(plain)
        scored, column = prediction(rows, self.pipeline(spark), self.output)
        found = scored.select(column.alias("p")).toPandas()["p"]
        if self.output.kind == "probability" and len(self.output.classes) > 2:
            return np.array(found.tolist(), dtype=float).reshape(len(frame), -1)
        out = found.to_numpy()
        return out.astype(int) if self.output.kind == "label" else out.astype(float)


def session() -> Any:
    """This process's Spark session: the one running already (tests, ``tuner predict
    --spark``), else a ``local[2]`` one (``spark_batch.spark_session``)."""
    from tuner.models.spark_batch import spark_session

    return spark_session("local[2]")
