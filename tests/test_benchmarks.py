"""The benchmark's quick mode runs and writes its report (the figures are not tested here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_quick_benchmark_writes_a_report(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "benchmarks", "--quick", "--no-peers"]
    command += ["--cases", "cold,uploads", "--out", str(tmp_path / "results")]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    report = (tmp_path / "results" / "latest.md").read_text()
    assert "## Cold renders" in report
    assert "| cold jpg/webp c4+c16 >= 1.0x pyvips thumbnail loop |" in report
    results = json.loads((tmp_path / "results" / "latest.json").read_text())
    row = results["cold"][0]
    assert {"pyvips thumbnail loop", "imageserver"} <= set(row["systems"])
    assert row["systems"]["imageserver"]["rate"] > 0
    assert results["uploads"]["rate"] > 0


def test_cli_benchmark_runs_both_sides(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "benchmarks.cli_process", "--rounds", "1", "--files", "3"]
    command += ["--workdir", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=120)
    report = json.loads(done.stdout)
    assert report["images_per_s"]["cli"] > 0
    assert report["images_per_s"]["plain"] > 0
    assert len(report["ratio_per_round"]) == 1
    assert list(tmp_path.iterdir()) == []  # every round's files are gone at the end


def test_options_benchmark_measures_both_sides(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "benchmarks.options", "--rounds", "1", "--renders", "2"]
    command += ["--concurrency", "1,2", "--images", "1", "--out", str(tmp_path / "results")]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    assert "## CPU ms per render (c1)" in (tmp_path / "results" / "options.md").read_text()
    results = json.loads((tmp_path / "results" / "options.json").read_text())
    assert set(results["check"]) == {"none", "none (h400)", "blur", "rotate", "pad", "watermark"}
    for row in results["rows"]:  # an option that does not render yet is left out, not failed
        assert row["throughput"]["server_per_s"] > 0
        assert row["throughput"]["pyvips_per_s"] > 0
        if not row["option"].startswith("none"):  # the bases have no cost of their own
            assert len(row["server"]["cpu_ms"]["cost_per_round"]) == 1
            assert len(row["pyvips"]["cpu_ms"]["cost_per_round"]) == 1
