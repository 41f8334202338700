"""HTTPS: ``tuner serve --ssl-certfile/--ssl-keyfile`` with a self-signed certificate; the client
verifies by default, against the certificate the server stored for the local user."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.api.server import ServerProcess
from tests.specs import spec_dict
from tuner.client import TunerAPIError, TunerClient


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_https_with_a_verified_self_signed_certificate(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    server = ServerProcess(f"sqlite:///{tmp_path / 't.db'}", tmp_path, tls=certificate).start()
    old = os.environ.get("TUNER_CONFIG_DIR")
    os.environ["TUNER_CONFIG_DIR"] = str(tmp_path)
    try:
        stored = json.loads((tmp_path / "credentials.json").read_text())
        assert stored["url"] == server.url and server.url.startswith("https://")
        assert stored["ca"] == str(certificate[0])
        with TunerClient() as client:  # the stored URL, token and certificate
            client.create_study(spec_dict("tls"))
            assert [s["name"] for s in client.studies()] == ["tls"]
        with TunerClient(server.url, server.token, verify=True, retry_for=1) as strict:
            with pytest.raises(TunerAPIError) as info:  # the system's CAs do not know it
                strict.studies()
        assert info.value.code == "unreachable" and "CERTIFICATE" in str(info.value).upper()
        said = server.log.read_text()
        assert f"Tuner serving at {server.url}" in said
        # the web page's login cookie is Secure over HTTPS
        login = httpx.post(
            f"{server.url}/login", data={"token": server.token}, verify=str(certificate[0])
        )
        assert login.status_code == 303 and "Secure" in login.headers["set-cookie"]
    finally:
        server.stop()
        if old is None:
            del os.environ["TUNER_CONFIG_DIR"]
        else:
            os.environ["TUNER_CONFIG_DIR"] = old


def test_a_missing_certificate_file_is_one_line(tmp_path: Path) -> None:
    server = ServerProcess(f"sqlite:///{tmp_path / 't.db'}", tmp_path)
    out = server.tuner(
        "serve",
        "--db",
        server.db,
        "--ssl-certfile",
        str(tmp_path / "no.pem"),
        "--ssl-keyfile",
        str(tmp_path / "no.key"),
    )
    assert out.returncode == 2 and out.stderr.startswith("error: --ssl-certfile: no such file")
