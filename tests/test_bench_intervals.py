"""docs/model.md quotes the price-range benchmark as `python -m bench.intervals` prints it today."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.slow


def test_the_model_page_table_is_the_benchmarks() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.intervals"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    page = ROOT.joinpath("docs", "model.md").read_text()
    indented = "\n".join("  " + line for line in run.stdout.strip("\n").splitlines())
    assert indented in page
