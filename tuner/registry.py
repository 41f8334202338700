"""The model registry: named models of a project, numbered immutable versions (bundles in an
artifact store), aliases such as ``production`` that point at a version, and the promotion rule
"move the alias only when the new version is better on the same metric".

    registry = ModelRegistry.open("sqlite:///tuner.db")           # bundles under ./artifacts/models
    registry.register_model(model, "churn", example=X, metrics={"auc": 0.91},
                            metric="auc", direction="maximize", alias="production", when="better")
    registry.load("churn@production").predict(rows)               # or "churn:3", or "churn"
    registry.set_alias("churn", "production", 2)                  # a rollback: moved back, recorded
"""

from __future__ import annotations

import getpass
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.errors import BundleError, SpecError
from tuner.models.bundle import Lineage, read_manifest, write_bundle
from tuner.models.flavor import flavor_named
from tuner.models.predictor import Predictor
from tuner.models.store import ArtifactStore
from tuner.projects import DEFAULT_PROJECT
from tuner.storage import Storage
from tuner.storage.models import (
    AliasMove,
    ModelSummary,
    ModelVersion,
    NewVersion,
    check_alias,
    check_model_name,
)

if TYPE_CHECKING:
    from tuner.models.onnx_export import OnnxExport

DIRECTIONS = ("maximize", "minimize")


@dataclass(frozen=True)
class Registration:
    """A registered version, the alias move it made (None if the alias stayed) and why."""

    version: ModelVersion
    moved: AliasMove | None
    reason: str


def parse_ref(ref: str) -> tuple[str, int | str | None]:
    """``churn`` (the latest), ``churn:3`` (a version) or ``churn@production`` (an alias)."""
    if "@" in ref:
        name, _, alias = ref.partition("@")
        return check_model_name(name), check_alias(alias)
    if ":" in ref:
        name, _, number = ref.partition(":")
        if not number.isdigit() or int(number) < 1:
            raise SpecError("model", f"{ref!r}: the version after ':' must be a number from 1")
        return check_model_name(name), int(number)
    return check_model_name(ref), None


def default_store_url(artifacts_dir: str) -> str:
    """Bundles under ``<artifacts>/models`` unless ``$TUNER_MODEL_STORE`` names a URL."""
    return os.environ.get("TUNER_MODEL_STORE") or os.path.join(artifacts_dir, "models")


class ModelRegistry:
    """Versions and aliases in the study database, bundles in ``store``; every method acts for
    ``project`` and records ``actor`` as who did it."""

    def __init__(
        self,
        storage: Storage,
        store: ArtifactStore,
        project: str = DEFAULT_PROJECT,
        actor: str | None = None,
    ) -> None:
        self.storage = storage
        self.store = store
        self.project = project
        self.actor = actor or _user()

    @classmethod
    def open(
        cls,
        db: str,
        store: str | None = None,
        *,
        project: str = DEFAULT_PROJECT,
        actor: str | None = None,
        must_exist: bool = False,
    ) -> ModelRegistry:
        """The registry of database ``db`` with bundles at ``store`` (default
        ``$TUNER_MODEL_STORE``, else ``$TUNER_ARTIFACTS_DIR/models``)."""
        url = store or default_store_url(os.environ.get("TUNER_ARTIFACTS_DIR", "artifacts"))
        return cls(Storage(db, must_exist=must_exist), ArtifactStore(url), project, actor)

    # -- registering -----------------------------------------------------------------------

    def register(
        self,
        model: str,
        bundle: str | os.PathLike[str],
        *,
        metric: str | None = None,
        direction: str | None = None,
        alias: str | None = None,
        when: str = "always",
    ) -> Registration:
        """Register the bundle at ``bundle`` (checked first) as the next version of ``model``;
        ``metric`` (one of the manifest's metrics) and ``direction`` are what the promotion rule
        compares. Nothing stays registered or stored when any step fails."""
        check_model_name(model)
        if alias is not None:
            check_alias(alias)
        manifest = read_manifest(bundle)
        flavor_named(manifest.flavor)  # an unknown flavor is refused before anything is stored
        if metric is not None and metric not in manifest.metrics:
            known = ", ".join(sorted(manifest.metrics)) or "none"
            raise SpecError("metric", f"the bundle has no metric {metric!r} (metrics: {known})")
        if direction is not None and direction not in DIRECTIONS:
            raise SpecError("direction", f"must be maximize or minimize, not {direction!r}")
        if when not in ("better", "always"):
            raise SpecError("when", f"must be 'better' or 'always', not {when!r}")
        if when == "better" and (metric is None or direction is None):
            raise SpecError("metric", "promoting when better needs a metric and a direction")
        uri = self.store.new_uri(model)
        self.store.put(bundle, uri)
        try:
            version, moved, reason = self.storage.add_version(
                self.project,
                model,
                NewVersion(
                    flavor=manifest.flavor,
                    uri=uri,
                    digest=manifest.digest,
                    metric=metric,
                    direction=direction,
                    metrics=manifest.metrics,
                    study=manifest.lineage.study,
                    trial=manifest.lineage.trial,
                    params=manifest.lineage.params,
                    signature=manifest.signature.to_dict(),
                ),
                self.actor,
                alias=alias,
                when=when,
            )
        except BaseException:
            self.store.delete(uri)
            raise
        return Registration(version, moved, reason)

    def register_model(
        self,
        obj: Any,
        model: str,
        *,
        flavor: str | None = None,
        example: Any = None,
        metrics: Mapping[str, float] | None = None,
        lineage: Lineage | None = None,
        metric: str | None = None,
        direction: str | None = None,
        alias: str | None = None,
        when: str = "always",
    ) -> Registration:
        """Bundle a fitted model (see ``write_bundle``) and register it (see ``register``)."""
        with tempfile.TemporaryDirectory(prefix="tuner-bundle-") as tmp:
            folder = Path(tmp) / "bundle"
            write_bundle(
                obj, folder, flavor=flavor, example=example, metrics=metrics, lineage=lineage
            )
            return self.register(
                model, folder, metric=metric, direction=direction, alias=alias, when=when
            )

    # -- aliases and reading ---------------------------------------------------------------

    def set_alias(self, model: str, alias: str, version: int, reason: str = "") -> AliasMove:
        """Point ``alias`` at ``version``; a rollback moves it back, and both are recorded."""
        return self.storage.set_alias(self.project, model, alias, version, self.actor, reason)

    def models(self) -> list[ModelSummary]:
        return self.storage.list_models(self.project)

    def versions(self, model: str) -> list[ModelVersion]:
        """Every version of ``model``, newest first."""
        return self.storage.model_versions(self.project, model)

    def history(self, model: str) -> list[AliasMove]:
        """Every alias move of ``model``, oldest first (who, when, from which version)."""
        return self.storage.alias_history(self.project, model)

    def resolve(self, ref: str) -> ModelVersion:
        """The version ``ref`` names: ``churn``, ``churn:3`` or ``churn@production``."""
        name, which = parse_ref(ref)
        return self.storage.model_version(self.project, name, which)

    def load(
        self, ref: str | ModelVersion, runtime: str = "auto", *, use: str = "row"
    ) -> Predictor:
        """The Predictor of a version, its bundle checked against the registered digest;
        ``runtime="onnx"`` scores with the version's ONNX export (see ``export``), ``pmml``
        with its PMML export in the JPMML evaluator (never picked by ``auto``), ``native``
        with the framework, ``auto`` with the one that was faster for ``use`` (``row``: one
        row per call; ``batch``) among those that predict the same (see ``runtimes``)."""
        return self.locate(ref, runtime, use=use).load()

    def locate(
        self, ref: str | ModelVersion, runtime: str = "auto", *, use: str = "row"
    ) -> Located:
        """Where ``load`` reads a version from (fetched into local folders, nothing loaded):
        what another process needs to load it (the prediction server's loader)."""
        from tuner.models.onnx_export import EXPORT, export_uri, read_export
        from tuner.models.runtimes import checked

        checked(runtime)
        version = self.resolve(ref) if isinstance(ref, str) else ref
        folder = self.store.fetch(version.uri, version.digest)
        if runtime == "pmml":
            from tuner.models import pmml_export

            found = self._fetch_export(
                pmml_export.export_uri(version.uri), version.digest, EXPORT, "pmml"
            )
            return Located(folder, version.digest, pmml=found)
        onnx = None
        uri = export_uri(version.uri)
        if runtime == "onnx":
            onnx = self._fetch_export(uri, version.digest, EXPORT)
        elif runtime == "auto" and self.store.exists(uri):
            found = self._fetch_export(uri, version.digest, EXPORT)
            manifest = read_manifest(folder, version.digest)
            if read_export(found, manifest).runtime(use) == "onnx":
                onnx = found
        return Located(folder, version.digest, onnx=onnx)

    def export(self, ref: str, format: str = "onnx") -> tuple[ModelVersion, OnnxExport]:
        """Export a version for onnxruntime (``onnx``) or a PMML evaluator (``pmml``), beside
        its immutable bundle in the store (its own folder with a sidecar manifest);
        ``BundleError`` when it was exported already in that format."""
        from tuner.models import onnx_export, pmml_export

        formats = {"onnx": onnx_export, "pmml": pmml_export}
        if format not in formats:
            raise SpecError("format", f"must be one of {', '.join(formats)}, not {format!r}")
        module = formats[format]
        version = self.resolve(ref)
        folder = self.store.fetch(version.uri, version.digest)
        uri = module.export_uri(version.uri)
        if self.store.exists(uri):
            raise BundleError(
                f"{ref} (version {version.version}) is exported already to {format}: {uri}"
            )
        if self.store.local or "://" not in uri:
            return version, module.write_export(folder, uri.removeprefix("file://"))
        with tempfile.TemporaryDirectory() as tmp:
            made = module.write_export(folder, Path(tmp) / format)
            self.store.put(Path(tmp) / format, uri)
        return version, made

    def _fetch_export(self, uri: str, digest: str, marker: str, format: str = "onnx") -> Path:
        if not self.store.exists(uri):
            raise BundleError(
                f"{uri}: this version has no {format.upper()} export (tuner models export "
                f"NAME:VERSION --format {format} makes one)",
                "runtime",
            )
        return self.store.fetch(uri, f"{digest}.{format}", marker)

    def close(self) -> None:
        self.storage.close()


@dataclass(frozen=True)
class Located:
    """A version's bundle in a local folder (with its registered digest) and the export to
    score it with, if any: ``load`` is ``Predictor.load`` of these."""

    folder: Path
    digest: str
    onnx: Path | None = None
    pmml: Path | None = None

    def load(self) -> Predictor:
        return Predictor.load(self.folder, self.digest, onnx=self.onnx, pmml=self.pmml)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in a container: say which process did it
        return f"pid {os.getpid()}"
