"""The fault campaign's quick mode (experiments/fault_campaign.py): replicas, workers, runners
and trial processes killed, PostgreSQL stopped, connections cut, workers paused past their
lease, and still every planned trial done exactly once, none lost, no lease left."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_the_quick_campaign_loses_and_repeats_nothing(tmp_path: Path) -> None:
    out = tmp_path / "campaign.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.fault_campaign",
            "--quick",
            "--seed",
            "3",
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(out.read_text())["summary"]
    assert summary["faults_total"] >= 12 and summary["studies"] >= 2
    assert summary["done"] == summary["planned"] > 0
    assert (summary["lost"], summary["duplicated"], summary["running_left"]) == (0, 0, 0)
