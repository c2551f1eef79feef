"""`make` picks a supported Python by itself, and says what it needs when there is none."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

from tests.support import ROOT

# A stand-in interpreter: it reports the version it is given, and `-m venv DIR` makes a venv
# whose python accepts anything (the pip installs), so that only the choice is tested.
FAKE_PYTHON = """#!/bin/sh
echo "$0 $*" >> "{log}"
case "$1" in
  -c) exec /bin/sh -c 'exit {status}' ;;
  -m) mkdir -p "$3/bin" && printf '#!/bin/sh\\nexit 0\\n' > "$3/bin/python" \\
      && chmod +x "$3/bin/python" ;;
esac
"""


def make_venv(
    tmp_path: Path, pythons: dict[str, bool]
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run `make venv` in a copy of the project with only `pythons` (name: supported) on PATH."""
    project, bin_dir, log = tmp_path / "project", tmp_path / "bin", tmp_path / "calls.log"
    project.mkdir()
    bin_dir.mkdir()
    for name in ("Makefile", "pyproject.toml", "requirements.lock"):
        shutil.copy(ROOT / name, project / name)
    for name, supported in pythons.items():
        path = bin_dir / name
        path.write_text(FAKE_PYTHON.format(log=log, status=0 if supported else 1))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    for tool in ("touch", "mkdir", "chmod"):  # what the recipe and the stand-in run
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    make = shutil.which("make")
    assert make is not None
    result = subprocess.run(
        [make, "venv"],
        cwd=project,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    return result, log.read_text() if log.exists() else ""


def test_make_takes_the_first_supported_python(tmp_path: Path) -> None:
    result, calls = make_venv(tmp_path, {"python3.12": True, "python3.13": True, "python3": True})
    assert result.returncode == 0, result.stderr
    assert "creating .venv with python3.12" in result.stdout
    assert "python3.12 -m venv .venv" in calls
    assert "-m venv" not in calls.replace("python3.12 -m venv", "")


def test_make_skips_a_python_of_an_unsupported_version(tmp_path: Path) -> None:
    result, calls = make_venv(tmp_path, {"python3": False, "python3.13": True})
    assert result.returncode == 0, result.stderr
    assert "creating .venv with python3.13" in result.stdout
    assert "python3 -m venv" not in calls


def test_make_says_what_it_needs_when_no_python_is_supported(tmp_path: Path) -> None:
    result, _ = make_venv(tmp_path, {"python3": False})
    assert result.returncode != 0
    assert "house-price needs Python 3.11, 3.12 or 3.13" in result.stderr
    assert "make PYTHON=/path/to/python3.12" in result.stderr
    assert not (tmp_path / "project" / ".venv").exists()
