"""Loading every market's active version, as a worker does at start (part of `make bench`).

    .venv/bin/python -m bench.loading [--engines files,postgres] [--markets 10000] [--runs 5]
                                      [--against PATH]

Stores `--markets` markets through the storage interface (as `bench.markets` does), then times
`ServedModels.refresh()` in a fresh process (every pointer read, every artifact read, checked
and unpickled), the median of `--runs`; then the same with versions signed with a key (the
markets stored again, signed). `--against PATH` names a checkout of another release (a `git
worktree`): its code loads the same stored markets, in turn with this one, so that the ratio is
of the code and not of the machine's moment.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.harness import ROOT, Row, add_markets, print_table
from bench.markets import deployment

# Run in a child process, so that each timing starts cold (no module or model cached) and can
# run another release's code (PYTHONPATH names its checkout).
_TIME = """
import time
from app.config import Settings
from app.service.serving import ServedModels
from app.storage import open_storage
storage = open_storage(Settings())
served = ServedModels(storage, "default")
start = time.perf_counter()
served.refresh()
took = time.perf_counter() - start
assert len(served.models) > 1 and not served.refused, served.refused
print(took, len(served.models))
storage.close()
"""

SIGNING_KEY = "bench-signing-key-" + "7" * 32


def time_loading(env: dict[str, str], code: Path) -> tuple[float, int]:
    run = subprocess.run(
        [sys.executable, "-c", _TIME],
        env={**os.environ, **env, "PYTHONPATH": str(code)},
        cwd=code,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise SystemExit(f"loading failed under {code}:\n{run.stderr}")
    took, markets = run.stdout.split()
    return float(took), int(markets)


def measure(row: Row, work: Path, engine: str, args: argparse.Namespace) -> None:
    codes = {"this release": ROOT}
    if args.against is not None:
        codes["against"] = args.against.resolve()
    for signed in (False, True):
        key = {"HOUSE_PRICE_SIGNING_KEY": SIGNING_KEY} if signed else {}
        env = deployment(work / f"{engine}-{'signed' if signed else 'plain'}", engine, key)
        if signed:
            codes = {"this release": ROOT}  # a release before signing cannot load signed versions
        add_markets(env, args.markets, durable=False)
        times: dict[str, list[float]] = {name: [] for name in codes}
        for _ in range(args.runs):
            for name, code in codes.items():  # in turn
                took, loaded = time_loading(env, code)
                times[name].append(took)
        mine = statistics.median(times["this release"])
        label = f"{engine}: load {loaded:,} markets" + (", signed" if signed else "")
        note = f"(median of {args.runs}"
        if "against" in times:
            theirs = statistics.median(times["against"])
            note += f"; {args.against}: {theirs:.2f} s, this release {mine / theirs:.2f}x"
        row(label, f"{mine:.2f} s", note + ")")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engines", default="files,postgres")
    parser.add_argument("--markets", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", type=Path, help="a checkout of another release")
    args = parser.parse_args()

    def all_engines(row: Row, work: Path) -> None:
        for engine in args.engines.split(","):
            measure(row, work, engine, args)

    print_table(all_engines, "house-price-loading-")


if __name__ == "__main__":
    main()
