"""The prediction server's Dockerfile, as far as it can be checked without a container engine
(there is none on this machine): the files its COPY lines take are copied into an empty
folder, its install command is run there in a fresh virtual environment (``uv pip``, pip's
drop-in, for speed), the entry point is started from that environment, and its HEALTHCHECK
command passes once the models are ready. Also: the image's shape (slim base, non-root user,
the server as entry point) and the Kubernetes manifest's probes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.api.prediction_server import fit_models, make_registry
from tests.api.server import free_port
from tests.conftest import REPO

DOCKERFILE = REPO / "deploy" / "serving" / "Dockerfile"
MANIFEST = REPO / "deploy" / "serving" / "kubernetes.yaml"


def instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word, rest.strip()))
    return out


def test_the_image_is_slim_non_root_and_serves_with_a_health_check() -> None:
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    entry = json.loads(next(rest for word, rest in steps if word == "ENTRYPOINT"))
    assert entry[:2] == ["tuner", "serve-models"]
    assert any(word == "HEALTHCHECK" and "/readyz" in rest for word, rest in steps)
    docs = list(yaml.safe_load_all(MANIFEST.read_text()))
    container = docs[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert docs[0]["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_the_dockerfile_commands_install_and_serve_in_a_fresh_environment(
    tmp_path: Path,
) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        pytest.fail("uv is needed to build the fresh environment (make install puts it there)")
    steps = instructions()
    context = tmp_path / "context"
    context.mkdir()
    for word, rest in steps:
        if word == "COPY":
            *sources, _ = rest.split()
            for source in sources:
                path = REPO / source
                if path.is_dir():
                    shutil.copytree(
                        path, context / source, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy(path, context / source)
    install = next(rest for word, rest in steps if word == "RUN" and "pip install" in rest)
    spec = re.search(r'pip install "([^"]+)"', install)
    assert spec is not None, install
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), spec.group(1)],
        cwd=context,
        check=True,
        timeout=600,
    )
    registry = make_registry(
        f"sqlite:///{tmp_path / 'tuner.db'}", tmp_path / "models", fit_models()
    )
    registry.close()
    entry = json.loads(next(rest for word, rest in steps if word == "ENTRYPOINT"))
    args = json.loads(next(rest for word, rest in steps if word == "CMD"))
    port, grpc_port = free_port(), free_port()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TUNER_DATABASE_URL": f"sqlite:///{tmp_path / 'tuner.db'}",
        "OMP_NUM_THREADS": "1",
    }
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [*entry, *args, "--host", "127.0.0.1", "--port", str(port)]
            + ["--grpc-port", str(grpc_port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        check = json.loads(
            next(rest for word, rest in steps if word == "HEALTHCHECK").split("CMD", 1)[1]
        )
        check = [c.replace(":8500/", f":{port}/") for c in check]
        check[0] = str(venv / "bin" / check[0])
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()
            if subprocess.run(check, capture_output=True, env=env).returncode == 0:
                break
            time.sleep(1)
        else:
            raise AssertionError(f"the health check never passed:\n{log.read_text()}")
        assert "Open Inference gRPC" in log.read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)
