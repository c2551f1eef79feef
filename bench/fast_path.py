"""/predict of one home against the bare FastAPI floor, in turn, in the same minutes.

    .venv/bin/python -m bench.fast_path [--before DIR] [--markets 10000] [--seconds 10]
                                        [--runs 3]

Every server is started once, pinned to core 0 (wrk on core 1, 16 connections), and the wrk
runs go round them in turn, `--runs` rounds, so that each figure is compared with the floor
measured beside it rather than with a machine's mood. A round starts with the floor, then
house-price's set-ups and the releases before it side by side, then the references, in
reverse order every other round (a drift within a round then favours each side as often);
the floor is run once more at the end, and each round's figures are compared with the
geometric mean of the floor's runs on either side of them (the printed `round` lines show
how far the machine drifts within a round):

- the bare FastAPI floor (`bench.bare_app:fastapi_app`: the same pydantic body, a constant
  answer), the pure-ASGI reference that validates the same body (`asgi_validated`), and the
  same without validation (`asgi_raw`, the HTTP stack's own limit);
- house-price, default market, access line off (the settings' default in the benchmarks);
- house-price naming one market of `--markets` (each a fit of its own, loaded at start);
- house-price with `HOUSE_PRICE_LOG_FORMAT=json` and the access line on (written to a file);
- with `--before DIR` (once or more), the release checked out in each DIR, default market,
  access line off.

Each line gives the median requests/s, p50, p99 and the server's CPU time per request over the
rounds, and the median of the rounds' ratios to the floor: requests/s, p99 as a share of the
floor's, and "by CPU", the floor's CPU time per request over this server's. The last is the
steadier on a shared virtual machine: the time the hypervisor takes a core away counts against
requests/s but not against CPU time.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.harness import (
    BODY,
    ROOT,
    SACRAMENTO,
    UVICORN,
    Row,
    Served,
    ServedAsgi,
    add_markets,
    cpu_seconds,
    ensure_wrk,
    print_table,
    wrk_run,
)

FLOOR = "bare FastAPI floor"
DEFAULT = "house-price, default market"
NAMED = "house-price, one market of {markets:,}"
LOGGED = "house-price, JSON access line on"
BEFORE = "house-price, release before"
REFERENCE = "pure ASGI + model_validate_json + orjson"
RAW = "pure ASGI, no validation"
KEY = "bench-key-5e0c1d7a"


def deployment(work: Path, tree: Path = ROOT) -> dict[str, str]:
    """Settings of a one-worker server whose default market is the bundled sales fitted plain
    by `tree`'s code (a release before the located model fits plain without being asked)."""
    env = {
        "HOUSE_PRICE_MODEL_DIR": str(work / "models"),
        "HOUSE_PRICE_DATA_DIR": str(work / "data"),
        "HOUSE_PRICE_API_KEY": KEY,
        "HOUSE_PRICE_WORKERS": "1",
        "HOUSE_PRICE_ACCESS_LOG": "false",
        "HOUSE_PRICE_LOG_LEVEL": "warning",
    }
    train = tree / "app" / "cli" / "train.py"
    plain = ["--plain"] if train.exists() and "--plain" in train.read_text() else []
    subprocess.run(
        [sys.executable, "-m", "app.train", "--data", str(SACRAMENTO), *plain],
        cwd=tree,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    return env


def _commit(tree: Path) -> str:
    """The short commit checked out in `tree`, or its folder's name."""
    found = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return found.stdout.strip() or tree.name


def named_body(market: str) -> bytes:
    return b'{"beds": 3, "baths": 2, "sqft": 1500, "market": "%s"}' % market.encode()


def measure(row: Row, work: Path, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Print each server's figures, and return them: medians of requests/s, p50 and p99."""
    wrk = ensure_wrk()
    plain = deployment(work / "one")
    many = deployment(work / "many")
    add_markets(many, args.markets, durable=False)
    market = f"m{args.markets // 2:05d}"
    logged = {
        **plain,
        "HOUSE_PRICE_LOG_FORMAT": "json",
        "HOUSE_PRICE_ACCESS_LOG": "true",
        "HOUSE_PRICE_LOG_LEVEL": "info",
    }
    serve = [sys.executable, "-m", "app.serve"]
    launches: list[tuple[str, Served, bytes]] = []
    try:
        launches.append(
            (FLOOR, Served([*UVICORN, "bench.bare_app:fastapi_app"], plain, "/docs"), BODY)
        )
        launches.append(
            (REFERENCE, ServedAsgi([*UVICORN, "bench.bare_app:asgi_validated"], plain), BODY)
        )
        launches.append((RAW, ServedAsgi([*UVICORN, "bench.bare_app:asgi_raw"], plain), BODY))
        launches.append((DEFAULT, Served(serve, plain, "/health/ready"), BODY))
        named = NAMED.format(markets=args.markets)
        launches.append((named, Served(serve, many, "/health/ready"), named_body(market)))
        launches.append((LOGGED, Served(serve, logged, "/health/ready"), BODY))
        for tree in args.before or ():
            before = deployment(work / f"before-{len(launches)}", tree)
            name = f"{BEFORE} ({_commit(tree)})"
            launches.append((name, Served(serve, before, "/health/ready", cwd=tree), BODY))
        # The floor first, then house-price, its other set-ups and the releases before, side by
        # side, then the references: in this order in odd rounds and in reverse in even ones.
        launches.sort(key=lambda launch: _place(launch[0]))
        for _, served, body in launches:  # warm-up
            wrk_run(wrk, served.url + "/predict", body, 2, work)
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in launches}

        def run(name: str, served: Served, body: bytes) -> None:
            cpu_before = cpu_seconds(served.process.pid)
            found = wrk_run(wrk, served.url + "/predict", body, args.seconds, work)
            used = cpu_seconds(served.process.pid) - cpu_before
            found["cpu_us"] = used / found["requests"] * 1e6
            rounds[name].append(found)
            print(
                f"  round {len(rounds[name])}: {name}: {found['rps']:,.0f} req/s, "
                f"p99 {found['p99']:.2f} ms, {found['cpu_us']:.0f} us CPU",
                flush=True,
            )

        for round_ in range(args.runs):
            floor, *rest = launches
            run(*floor)
            for launch in rest if round_ % 2 == 0 else rest[::-1]:  # drift falls on each side
                run(*launch)
        run(*launches[0])  # the floor once more: each round's figures lie between two of its runs
    finally:
        for _, served, _ in launches:
            served.__exit__()
    _report(row, rounds)
    return {
        name: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for name, runs in rounds.items()
    }


_ORDER = [FLOOR, DEFAULT, NAMED.split("{")[0], LOGGED, BEFORE, REFERENCE, RAW]


def _place(name: str) -> int:
    """Where a server's runs come in a round."""
    return next(i for i, start in enumerate(_ORDER) if name.startswith(start))


def _between(runs: list[dict[str, float]]) -> list[dict[str, float]]:
    """The floor's figures in each round, as the geometric mean of its runs at the start of
    that round and of the next: the machine's speed drifts within a round (by 30 % on this
    shared machine), and a server measured late in a round is compared with the floor on
    either side of it."""
    return [{k: math.sqrt(a[k] * b[k]) for k in a} for a, b in itertools.pairwise(runs)]


def _report(row: Row, rounds: dict[str, list[dict[str, float]]]) -> None:
    floor = _between(rounds[FLOOR])
    rounds[FLOOR] = rounds[FLOOR][:-1]

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in rounds[name])

    def against(name: str, reference: list[dict[str, float]]) -> tuple[float, float]:
        pairs = list(zip(rounds[name], reference, strict=True))
        return (
            statistics.median(r["rps"] / f["rps"] for r, f in pairs),
            statistics.median(r["p99"] / f["p99"] for r, f in pairs),
        )

    for name in rounds:
        rps, p99 = against(name, floor)
        pairs = zip(rounds[name], floor, strict=True)
        cpu = statistics.median(f["cpu_us"] / r["cpu_us"] for r, f in pairs)
        figure = f"{median(name, 'rps'):,.0f} req/s, p50 {median(name, 'p50'):.2f} ms"
        figure += f", p99 {median(name, 'p99'):.2f} ms, {median(name, 'cpu_us'):.0f} us CPU"
        note = f"{rps:.2f}x the floor's req/s, p99 {p99:.2f}x its p99; {cpu:.2f}x by CPU"
        row(f"/predict: {name}", figure, note)
    default = rounds[DEFAULT]
    for name in rounds:
        if name.startswith("house-price") and name != DEFAULT:
            rps, p99 = against(name, default)
            row(f"/predict: {name}", f"{rps:.2f}x the default market's req/s", f"p99 {p99:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--before",
        type=Path,
        action="append",
        help="a checkout of a release to compare with (may be given more than once)",
    )
    parser.add_argument("--markets", type=int, default=10_000, help="markets of the named figure")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run")
    parser.add_argument("--runs", type=int, default=3, help="rounds over every server")
    args = parser.parse_args()

    def run(row: Row, work: Path) -> None:
        measure(row, work, args)

    print_table(run, "house-price-fast-path-")


if __name__ == "__main__":
    main()
