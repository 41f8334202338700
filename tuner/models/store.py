"""Where bundles live: the artifact store, a local folder by default or any fsspec URL
(``s3://bucket/models`` where s3fs is installed, ``memory://models`` in tests).

A bundle is uploaded under a fresh key, so that a version's files are never overwritten; reading
one from a remote store downloads it once into a local cache named after its manifest's digest
(the Predictor checks every file against the manifest either way)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from tuner.errors import BundleError, TunerError


class ArtifactStore:
    """Bundles under ``url``: a folder path, or ``protocol://...`` through fsspec."""

    def __init__(self, url: str, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.url = url
        self.local = "://" not in url or url.startswith("file://")
        root = url.removeprefix("file://") if self.local else url
        self.root = os.path.abspath(os.path.expanduser(root)) if self.local else root.rstrip("/")
        self.cache_dir = Path(cache_dir or Path(tempfile.gettempdir()) / "tuner-model-cache")

    def _fs(self) -> Any:
        try:
            import fsspec
        except ImportError:
            raise BundleError(
                f"the artifact store {self.url!r} needs the package 'fsspec': "
                "pip install 'tuner[models]'"
            ) from None
        try:
            fs, _ = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:
            raise TunerError(f"cannot open the artifact store {self.url!r}: {exc}") from None
        return fs

    def new_uri(self, model: str) -> str:
        """A fresh place for a bundle of ``model`` (never one in use)."""
        key = f"{model}/{uuid.uuid4().hex[:16]}"
        return os.path.join(self.root, key) if self.local else f"{self.root}/{key}"

    def put(self, folder: str | os.PathLike[str], uri: str) -> None:
        """Copy the bundle at ``folder`` to ``uri`` (from ``new_uri``)."""
        if self.local:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(folder, uri)
            return
        fs = self._fs()
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                remote = f"{uri}/{path.relative_to(folder).as_posix()}"
                fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
                fs.pipe_file(remote, path.read_bytes())

    def fetch(self, uri: str, digest: str, marker: str = "MANIFEST.json") -> Path:
        """A local folder holding the bundle at ``uri`` (the store's own folder when local),
        cached under ``digest`` once ``marker`` is there."""
        if self.local or "://" not in uri:
            return Path(uri.removeprefix("file://"))
        target = self.cache_dir / digest
        if (target / marker).is_file():
            return target
        fs = self._fs()
        staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=self._cache()))
        try:
            found = [p for p in fs.find(uri) if not p.endswith("/")]
            if not found:
                raise BundleError(f"no bundle at {uri} in the artifact store")
            base = fs._strip_protocol(uri).rstrip("/")
            for remote in found:
                relative = remote[len(base) :].lstrip("/")
                local = staging / relative
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_bytes(fs.cat_file(remote))
            try:
                os.rename(staging, target)
            except OSError:  # another process fetched it first
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def exists(self, uri: str) -> bool:
        """Whether anything is stored at ``uri``."""
        if self.local or "://" not in uri:
            return Path(uri.removeprefix("file://")).exists()
        return bool(self._fs().exists(uri))

    def delete(self, uri: str) -> None:
        """Remove the bundle at ``uri`` (a registration that did not complete)."""
        if self.local or "://" not in uri:
            path = Path(uri.removeprefix("file://"))
            for p in path.rglob("*"):
                if p.is_file():
                    p.chmod(0o644)
            shutil.rmtree(path, ignore_errors=True)
            return
        fs = self._fs()
        if fs.exists(uri):
            fs.rm(uri, recursive=True)

    def _cache(self) -> Path:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        return self.cache_dir
