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


def deserialisers(tree: ast.AST) -> list[str]:
    """The calls in a module that can construct objects named by the data they read."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names]
            module = node.module if isinstance(node, ast.ImportFrom) else None
            found += [f"import {n}" for n in names if n in ("pickle", "marshal", "shelve", "dill")]
            if module in ("pickle", "joblib", "marshal", "shelve"):
                found.append(f"from {module} import {', '.join(names)}")
        if isinstance(node, ast.Attribute) and node.attr in ("load", "loads", "Unpickler"):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("pickle", "joblib", "marshal"):
                found.append(f"{owner.id}.{node.attr}")
        refused = isinstance(node, ast.keyword) and isinstance(node.value, ast.Constant)
        refused = refused and node.value.value is False  # type: ignore[attr-defined]
        if isinstance(node, ast.keyword) and node.arg == "allow_pickle" and not refused:
            found.append("allow_pickle not False")
    return found


def test_only_the_artifact_module_unpickles_and_nothing_loads_pickles_elsewhere() -> None:
    found = {
        str(p.relative_to(ROOT)): calls
        for p in MODULES
        if (calls := deserialisers(ast.parse(p.read_text())))
    }
    assert found == {"app/storage/artifact.py": ["import pickle", "pickle.Unpickler"]}


def test_a_pickle_load_or_joblib_load_anywhere_is_found() -> None:
    source = (
        "import pickle\nimport joblib\npickle.loads(b'')\njoblib.load('f')\n"
        "np.load(f, allow_pickle=True)\nnp.load(g, allow_pickle=False)\n"
    )
    assert deserialisers(ast.parse(source)) == [
        "import pickle",
        "pickle.loads",
        "joblib.load",
        "allow_pickle not False",
    ]
