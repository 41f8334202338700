"""Every example of the README, run exactly as written, as a new user would: in an empty folder,
with the installed ``tuner`` on the PATH, a real server on the README's port (8000)."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.api.server import free_port
from tests.conftest import REPO
from tuner.study import StudySpec, load_spec

README = REPO / "README.md"
PORT = 8000  # the README's own


@dataclass(frozen=True)
class Block:
    section: str
    lang: str
    text: str

    @property
    def file(self) -> str | None:
        """The file a block shows (``# train.py`` on its first line), if it shows one."""
        first = self.text.splitlines()[0] if self.text else ""
        match = re.match(r"#\s*([\w.-]+\.(?:py|ya?ml|json))\b", first)
        return match.group(1) if match else None


def blocks() -> list[Block]:
    out, section, lang, lines = [], "", None, []
    for line in README.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        if line.startswith("```"):
            if lang is None:
                lang, lines = line[3:].strip(), []
            else:
                out.append(Block(section, lang, "\n".join(lines) + "\n"))
                lang = None
        elif lang is not None:
            lines.append(line)
    return out


def of(section: str) -> list[Block]:
    return [b for b in blocks() if b.section.startswith(section)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("new-user")


@pytest.fixture(scope="module")
def env(folder: Path) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    keep = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    return {
        **keep,
        "PATH": f"{bin_dir}:{keep['PATH']}",
        "TUNER_CONFIG_DIR": str(folder / "cfg"),
        "HOME": str(folder),
    }


def sh(
    script: str, cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, f"{script}\n--- stdout\n{out.stdout}\n--- stderr\n{out.stderr}"
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    return out


def write_files(section: str, cwd: Path) -> None:
    for block in of(section):
        if block.file:
            (cwd / block.file).write_text(block.text)


def commands(section: str) -> Iterator[Block]:
    return (b for b in of(section) if b.lang == "sh")


@contextmanager
def in_background(
    command: str, cwd: Path, env: dict[str, str], said: list[str]
) -> Iterator[subprocess.Popen[str]]:
    """Run a README command (a server) in the background; on leaving, stop its process group
    and append what it printed to ``said``."""
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        os.killpg(proc.pid, 15)
        said.append(proc.communicate(timeout=30)[0])


def _serving(url: str, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"no server at {url}")


def test_the_quick_start(folder: Path, env: dict[str, str]) -> None:
    write_files("Quick start", folder)
    assert (folder / "train.py").exists() and (folder / "study.yaml").exists()
    (block,) = commands("Quick start")
    out = sh(block.text, folder, env)
    assert "study first: 30 trials done" in out.stdout and "rank" in out.stdout
    assert (folder / "tuner.db").exists()
    # the README's promise: a larger budget is taken up by running the same file again
    study = folder / "study.yaml"
    study.write_text(study.read_text().replace("trials: 30", "trials: 40"))
    again = sh("tuner run study.yaml --no-progress", folder, env)
    assert "study first: 40 trials done" in again.stdout


def test_the_service_client_worker_and_curl(folder: Path, env: dict[str, str]) -> None:
    if not (folder / "train.py").exists():  # run alone (-k, another worker): the quick start's
        write_files("Quick start", folder)  # files, which the workers import, as a reader has
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", PORT)) != 0, f"port {PORT} is taken"
    serve, allowing, *rest = list(commands("As a service"))
    assert serve.text.strip().startswith("tuner serve ")
    said: list[str] = []
    with in_background(serve.text, folder, env, said) as server:
        _serving(f"http://127.0.0.1:{PORT}", server)
        # the operator's variant, on another port (given by the environment)
        port = free_port()
        with in_background(allowing.text, folder, {**env, "TUNER_PORT": str(port)}, said) as other:
            _serving(f"http://127.0.0.1:{port}", other)
        assert "server-side runs: on for functions under train" in said[0], said
        write_files("As a service", folder)
        for block in rest:
            out = sh(block.text, folder, env)
            assert '"error":{' not in out.stdout, out.stdout  # no error body
        runs = sh("tuner studies --json", folder, env).stdout
        states = {s["name"]: (s["state"], s["done"], s["planned"]) for s in yaml.safe_load(runs)}
        assert states["remote"] == ("complete", 40, 40)
        assert states["by-hand"] == ("complete", 3, 3)


def test_early_stopping_stop_conditions_and_several_metrics(
    tmp_path: Path, env: dict[str, str]
) -> None:
    write_files("Early stopping", tmp_path)
    assert {"curve.py", "pruned.yaml", "two.py", "pareto.yaml"} <= {
        p.name for p in tmp_path.iterdir()
    }
    first, second = commands("Early stopping")
    out = sh(first.text, tmp_path, env).stdout
    assert "pruned" in out
    pruned = sh("tuner trials pruned --state pruned --json", tmp_path, env).stdout
    assert yaml.safe_load(pruned), out
    out = sh(second.text, tmp_path, env).stdout
    assert "front" in out and "hypervolume:" in out
    (listed,) = [line for line in out.splitlines() if line.startswith("pareto ")]
    assert " hv " in listed and "minimize, minimize" in listed, listed


def test_the_conformance_suite_example(tmp_path: Path, env: dict[str, str]) -> None:
    write_files("Plug-ins", tmp_path)
    assert (tmp_path / "test_random.py").exists()
    (block,) = commands("Plug-ins")
    out = sh(block.text, tmp_path, env)
    assert " passed" in out.stdout and "failed" not in out.stdout


def test_the_study_file_example_is_the_demo_study() -> None:
    (example,) = [b for b in of("The study file") if b.lang == "yaml"]
    shown = StudySpec.from_dict(yaml.safe_load(example.text)).to_dict()
    demo = load_spec(REPO / "experiments" / "demo" / "study.yaml").to_dict()
    demo.pop("description")
    assert shown == demo


def test_the_error_shown_is_the_error_printed(tmp_path: Path) -> None:
    (shown,) = [b for b in of("The study file") if b.lang == ""]
    command, expected = shown.text.strip().splitlines()
    bad = yaml.safe_load(load_yaml_example())
    bad["space"]["rate_drop"]["when"] = {"boostr": "dart"}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    out = subprocess.run(
        [sys.executable, "-m", "tuner.cli", *shlex.split(command.removeprefix("$ tuner "))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and out.stderr.strip() == expected


def load_yaml_example() -> str:
    (example,) = [b for b in of("The study file") if b.lang == "yaml"]
    return example.text


def test_the_benchmark_commands_exist_and_take_their_flags() -> None:
    for block in of("Benchmarks"):
        for line in block.text.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if (
                len(words) >= 3
                and words[1:3] == ["-m", words[2]]
                and words[2].startswith("experiments.")
            ):
                out = subprocess.run(
                    [sys.executable, *words[1:], "--help"],
                    cwd=REPO,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert out.returncode == 0, f"{line}\n{out.stderr}"


def test_the_serving_section(tmp_path: Path, env: dict[str, str]) -> None:
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", 8500)) != 0, "port 8500 is taken"
    write_files("Serving", tmp_path)
    assert (tmp_path / "register.py").exists()
    register, serve, use = commands("Serving")
    sh(register.text, tmp_path, env)
    assert serve.text.strip().startswith("tuner serve-models ")
    said: list[str] = []
    with in_background(serve.text, tmp_path, env, said):
        out = sh(use.text, tmp_path, env, timeout=300).stdout
    (said_text,) = said
    assert out.count('"predictions":[') == 2 and '"model_version":"2"' in out, out
    assert '"field":"rows[0].plan"' in out and "unknown category 'gold'" in out, out
    assert 'tuner_model_version{model="churn"} 1.0' in out, out
    assert "version 1 swapped" in said_text, said_text


def test_the_models_section(tmp_path: Path, env: dict[str, str]) -> None:
    write_files("Models", tmp_path)
    assert (tmp_path / "churn.py").exists() and (tmp_path / "score.py").exists()
    (block,) = commands("Models")
    out = sh(block.text, tmp_path, env)
    assert "promote: registered churn:1 -> production" in out.stdout, out.stdout
    assert "churn@production -> version 2 (was 1)" in out.stdout
    assert "churn@production -> version 1 (was 2)" in out.stdout
    assert "scored 3 rows with churn:1" in out.stdout and "scored 3 rows with churn:2" in out.stdout
    assert "version 1 ['age', 'visits', 'plan']" in out.stdout
    import pandas as pd

    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert scored["id"].tolist() == [1, 2, 3] and scored["prediction"].between(0, 1).all()
