"""The README quotes the price-range benchmark as it prints today."""

from __future__ import annotations

from bench.intervals import report
from tests.conftest import ROOT


def test_the_readme_table_is_the_benchmarks() -> None:
    readme = ROOT.joinpath("README.md").read_text()
    indented = "\n".join("  " + line for line in report().splitlines())
    assert indented in readme
