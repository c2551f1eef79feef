"""A small Dockerfile reader: the instructions of each stage, with line continuations joined."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Instruction:
    keyword: str
    args: str
    marker: str | None = None  # the text after "# smoke:" in the comment just above, if any


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


def parse(path: Path) -> list[Stage]:
    stages: list[Stage] = []
    marker: str | None = None
    logical = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not logical and line.startswith("#"):
            found = re.match(r"#\s*smoke:\s*(.+)", line)
            if found:
                marker = found.group(1).strip()
            continue
        if not line and not logical:
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        keyword, _, args = logical.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        else:
            stages[-1].instructions.append(Instruction(keyword, args.strip(), marker))
        marker = None
        logical = ""
    return stages


def env_pairs(args: str) -> dict[str, str]:
    """The variables of an `ENV k=v k2="v 2"` instruction."""
    return dict(token.split("=", 1) for token in shlex.split(args))


def exec_form(args: str) -> list[str]:
    """The argument list of an exec-form CMD, or of HEALTHCHECK's CMD after its options."""
    start = args.index("[")
    command: list[str] = json.loads(args[start:])
    return command


def healthcheck_options(args: str) -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+)=(\S+)", args[: args.index("CMD")]))
