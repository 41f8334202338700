"""The layers as DESIGN.md draws them: arrows point down only (api -> executors, algorithms ->
tuner), the core imports no web layer, client, algorithm or executor, and the client imports
nothing of the server. Checked in the source and in fresh interpreters."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.specs import spec_dict

# folder -> the tuner.* packages (besides its own) it may import
ALLOWED = {
    "tuner": set(),
    "algorithms": {"tuner"},
    "executors": {"tuner"},
    "api": {"tuner", "tuner.client", "tuner.executors", "tuner.algorithms"},
    "client": set(),
}
LAYERS = ("tuner.api", "tuner.client", "tuner.algorithms", "tuner.executors")
WEB = ("fastapi", "starlette", "uvicorn", "httpx", "pydantic")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _layer(module: str) -> str | None:
    if not (module == "tuner" or module.startswith("tuner.")):
        return None
    return next(
        (layer for layer in LAYERS if module == layer or module.startswith(layer + ".")), "tuner"
    )


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_every_import_points_down(folder: str) -> None:
    own = "tuner" if folder == "tuner" else f"tuner.{folder}"
    wrong = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for module in _imports(path):
            layer = _layer(module)
            if layer is None or layer == own:
                continue
            if folder == "client" or layer not in ALLOWED[folder]:
                wrong.append(f"{path.relative_to(REPO)} imports {module}")
    assert not wrong, "\n".join(wrong)


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _offending(modules: set[str], banned: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == b or m.startswith(b + ".") for b in banned))


def test_the_core_loads_no_web_client_algorithm_or_executor() -> None:
    loaded = _loaded_after(
        "import tuner.cli, tuner.runs, tuner.runner, tuner.scheduler, tuner.storage, "
        "tuner.study, tuner.objective, tuner.plugins, tuner.config, tuner.commands.run"
    )
    assert _offending(loaded, (*LAYERS, *WEB)) == []


def test_the_client_loads_nothing_of_the_server() -> None:
    loaded = _loaded_after("import tuner.client, tuner.client.worker, tuner.client.work")
    server = [m for m in loaded if (m.startswith("tuner.") and not m.startswith("tuner.client"))]
    assert server == [] and _offending(loaded, ("sqlalchemy", "fastapi", "numpy", "yaml")) == []


def test_tuner_run_never_imports_a_web_framework_or_an_http_client(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        yaml.safe_dump(spec_dict("layers", plan=[{"algorithm": "random", "trials": 2}]))
    )
    loaded = _loaded_after(
        "from tuner.cli import main\n"
        f"assert main(['run', {str(spec)!r}, '--no-progress', '--db', "
        f"'sqlite:///{tmp_path / 't.db'}']) == 0"
    )
    assert _offending(loaded, ("tuner.api", "tuner.client", *WEB)) == []
