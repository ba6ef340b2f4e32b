"""benchmarks/pdf_rasterize.py runs and reports both sides (the figures are not tested here)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_pdf_rasterize_benchmark_reports_both_ways() -> None:
    command = [sys.executable, "-m", "benchmarks.pdf_rasterize", "--rounds", "1", "--dpi", "72"]
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=120)
    summary = json.loads(done.stdout)
    assert summary["pages_per_s"]["job"] > 0
    assert summary["pages_per_s"]["direct"] > 0
    assert (summary["pages"], summary["dpi"]) == (19, 72)
