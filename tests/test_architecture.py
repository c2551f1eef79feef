"""The layout's rules, checked: layers import only downwards, modules stay small and say what
they are for."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

MODULES = sorted((ROOT / "app").rglob("*.py"))


def test_imports_follow_the_layers_and_only_the_api_imports_the_web_framework() -> None:
    # Also: the benchmarks import their harness, never each other in a cycle.
    # The contracts are in pyproject.toml ([tool.importlinter]); ARCHITECTURE.md explains them.
    run = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:]
    assert "3 kept, 0 broken" in run.stdout


def test_no_module_is_longer_than_500_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n for p in MODULES if (n := len(p.read_text().splitlines())) > 500
    }
    assert long == {}


def test_every_module_opens_with_a_docstring_saying_what_it_is_for() -> None:
    missing = [
        str(p.relative_to(ROOT)) for p in MODULES if not ast.get_docstring(ast.parse(p.read_text()))
    ]
    assert missing == []
