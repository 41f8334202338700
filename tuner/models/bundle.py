"""Model bundles: one immutable folder per model version, a manifest (``MANIFEST.json``) and the
model's files in its flavor's native format, each with its SHA-256 in the manifest.

A bundle is written into a fresh temporary folder beside its destination and renamed into place
once complete, so that a half-written bundle is never seen; reading one checks every file's
checksum and refuses an unknown flavor or a missing package, naming the file, flavor or package.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuner.errors import BundleError
from tuner.models.flavor import Flavor, check_installed, flavor_named, flavor_of
from tuner.models.signature import Signature, as_frame, examples_of

MANIFEST = "MANIFEST.json"
FORMAT = 1
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Lineage:
    """Where a model came from: the study, the trial and its params."""

    study: str | None = None
    trial: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study, "trial": self.trial, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lineage:
        return cls(data.get("study"), data.get("trial"), dict(data.get("params") or {}))


@dataclass(frozen=True)
class Manifest:
    """What a bundle says of itself (``MANIFEST.json``)."""

    flavor: str
    signature: Signature
    files: dict[str, str]  # relative path -> SHA-256
    versions: dict[str, str] = field(default_factory=dict)  # python and the framework's
    requires: dict[str, str] = field(default_factory=dict)  # module -> distribution
    metrics: dict[str, float] = field(default_factory=dict)
    lineage: Lineage = field(default_factory=Lineage)
    examples: tuple[dict[str, Any], ...] = ()  # warm-up rows
    created_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "flavor": self.flavor,
            "versions": dict(self.versions),
            "requires": dict(self.requires),
            "signature": self.signature.to_dict(),
            "metrics": dict(self.metrics),
            "lineage": self.lineage.to_dict(),
            "examples": list(self.examples),
            "files": dict(self.files),
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        return cls(
            flavor=str(data["flavor"]),
            signature=Signature.from_dict(data["signature"]),
            files={str(k): str(v) for k, v in data["files"].items()},
            versions=dict(data.get("versions") or {}),
            requires=dict(data.get("requires") or {}),
            metrics={str(k): float(v) for k, v in (data.get("metrics") or {}).items()},
            lineage=Lineage.from_dict(data.get("lineage") or {}),
            examples=tuple(data.get("examples") or ()),
            created_at=str(data.get("created_at", "")),
        )

    def text(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=_json_default)

    @property
    def digest(self) -> str:
        """The SHA-256 of the manifest's text: one digest that covers the whole bundle."""
        return hashlib.sha256(self.text().encode()).hexdigest()


def write_bundle(
    model: Any,
    folder: str | os.PathLike[str],
    *,
    flavor: str | None = None,
    example: Any = None,
    signature: Signature | None = None,
    metrics: Mapping[str, float] | None = None,
    lineage: Lineage | None = None,
) -> Manifest:
    """Save ``model`` as a bundle at ``folder`` (which must not exist) and return its manifest.

    ``flavor`` is inferred from the model's type when one flavor takes it. The signature comes
    from ``signature``, else from ``example`` (training rows: a DataFrame, dicts or a 2-D
    array; its first rows become the warm-up rows), else from what the model knows itself.
    Nothing is left at ``folder`` when saving fails."""
    target = Path(folder)
    if target.exists():
        raise BundleError(f"{target} exists already: a bundle is written once", "folder")
    chosen: Flavor = flavor_named(flavor) if flavor else flavor_of(model)
    chosen.check_installed()
    output = chosen.output(model)
    frame = as_frame(example) if example is not None else None
    if signature is None:
        if frame is not None:
            signature = Signature.infer(frame, output)
        else:
            signature = chosen.signature(model)
        if signature is None:
            raise BundleError(
                f"cannot tell the inputs of this {chosen.name} model: pass example= (training "
                "rows) so that the bundle records feature names, types and categories",
                "example",
            )
    examples = examples_of(frame, signature) if frame is not None else []
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        files_dir = staging / "model"
        files_dir.mkdir()
        chosen.save(model, files_dir, signature)
        files = {
            str(p.relative_to(staging)): file_digest(p)
            for p in sorted(files_dir.rglob("*"))
            if p.is_file()
        }
        manifest = Manifest(
            flavor=chosen.name,
            signature=signature,
            files=files,
            versions=chosen.versions(),
            requires=dict(chosen.requires),
            metrics={k: float(v) for k, v in (metrics or {}).items()},
            lineage=lineage or Lineage(),
            examples=tuple(examples),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        (staging / MANIFEST).write_text(manifest.text())
        _read_only(staging)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def read_manifest(folder: str | os.PathLike[str], digest: str | None = None) -> Manifest:
    """The manifest of the bundle at ``folder`` after checking every file against its SHA-256
    (and the manifest against ``digest`` when the registry gives one); ``BundleError`` naming
    the file that is missing, truncated or changed."""
    root = Path(folder)
    path = root / MANIFEST
    try:
        text = path.read_text()
        manifest = Manifest.from_dict(json.loads(text))
    except FileNotFoundError:
        raise BundleError(f"{root} is not a model bundle: it has no {MANIFEST}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BundleError(f"{path} is not a valid manifest: {exc}") from None
    if digest is not None and manifest.digest != digest:
        raise BundleError(
            f"{path} was changed after registration (its SHA-256 is not the registered one)"
        )
    for name, expected in manifest.files.items():
        file = root / name
        if not file.is_file():
            raise BundleError(f"{file} is missing from the bundle")
        if file_digest(file) != expected:
            raise BundleError(f"{file} fails its checksum: truncated or changed since saved")
    check_installed(manifest.flavor, manifest.requires)
    return manifest


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _read_only(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            p.chmod(0o444)


def _json_default(value: Any) -> Any:
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
