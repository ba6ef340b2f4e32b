"""benchmarks/scaleout.py runs the compose deployment, measures both fronts and writes its report
(the figures are not tested here)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.scaleout.conftest import NGINX


@pytest.mark.skipif(
    NGINX is None or shutil.which("redis-server") is None,
    reason="needs nginx and redis-server (.ci/run installs them)",
)
def test_scaleout_benchmark_measures_one_node_and_two(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "benchmarks.scaleout", "--rounds", "1", "--renders", "4"]
    command += ["--hit-seconds", "0", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=120)
    results = json.loads(done.stdout)
    cold = results["cases"]["cold"]
    assert cold["median"]["1 node"] > 0
    assert cold["median"]["2 nodes"] > 0
    assert cold["errors"] == 0
    report = (tmp_path / "scaleout.md").read_text()
    assert "| case | 1 node | 2 nodes | 2 nodes / 1 node (rounds' range) | errors |" in report
    assert "python -m benchmarks.scaleout --rounds 1" in report
