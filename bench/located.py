"""Located markets against plain ones, in the same run (part of `make bench`).

    .venv/bin/python -m bench.located [--before DIR] [--seconds 10] [--runs 1] [--markets 10000]
                                      [--engines files,postgres]

- /predict at 16 connections (wrk, one worker pinned to core 0): a located home (area and
  coordinates) in a located market (King County's sales, or synthetic ones), without and with
  its 5 comps listed (`?comps=5`), a home without them in the same market and in a market of
  the same sales without their coordinates, and a plain home
  in a plain market (the bundled sales, `--plain`), here and, with `--before DIR`, the plain
  and the located home in the release checked out in DIR, in turn;
- a CSV batch of 100,000 homes: located in the located market, plain in the plain one, the
  located homes' CSV to today's model of the same sales (`--plain`), and with `--before DIR`
  both in that release, the located homes' CSV (area and coordinates
  passed through) to a market of the same sales fitted by it (a release before the option to
  skip invalid rows is given the rows this one takes); each server free to run on every core,
  and the located batch once more on core 0 alone;
- `python -m app.train` on 1,000,000 synthetic located sales against `--plain` on the same
  file, and with `--before DIR` against that release's fit of the same rows without area,
  coordinates and dates, and of the same file (whose other columns it passes over): wall time
  and peak memory;
- 10,000 markets of 1,000 located sales against 10,000 of 1,000 plain sales, on files and on
  PostgreSQL (`--engines`): the worker's resident memory and the time from start to ready;
  then two workers, each one's USS at ready and once it has valued a home of every market, and
  the bytes a sale of the comps the machine keeps for them (`HOUSE_PRICE_COMPS_DIR`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from app.domain import comps_pack, listings
from bench.harness import (
    BODY,
    SACRAMENTO,
    Row,
    Served,
    ensure_wrk,
    measure_wrk,
    peak_memory_of,
    post_timed,
    print_table,
)
from bench.markets import deployment, worker_rss_mb
from tests.support import located_listings, mapped_packs, uvicorn_workers

KING_COUNTY = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "king_county.csv"
LOCATED = (
    b'{"beds": 3, "baths": 2, "sqft": 1800, "area": "north", "latitude": 47.52, '
    b'"longitude": -122.25}'
)
KING_COUNTY_HOME = (
    b'{"beds": 3, "baths": 2, "sqft": 1800, "area": "98103", "latitude": 47.67, '
    b'"longitude": -122.34}'
)
SETTINGS = {
    "HOUSE_PRICE_API_KEY": "bench-key-5e0c1d7a",
    "HOUSE_PRICE_WORKERS": "1",
    "HOUSE_PRICE_ACCESS_LOG": "false",
    "HOUSE_PRICE_LOG_LEVEL": "warning",
}


def fitted(work: Path, data: Path, tree: Path, *options: str) -> dict[str, str]:
    """Settings of a one-worker server whose default market is `data` fitted by `tree`'s code."""
    env = {
        **SETTINGS,
        "HOUSE_PRICE_MODEL_DIR": str(work / "models"),
        "HOUSE_PRICE_DATA_DIR": str(work / "data"),
    }
    skip = ["--skip-invalid"]
    if "--skip-invalid" not in (tree / "app" / "cli" / "train.py").read_text():
        data, skip = _valid_rows(data, work), []  # a release before the option: the valid rows
    command = [sys.executable, "-m", "app.train", "--data", str(data), *skip, *options]
    subprocess.run(command, cwd=tree, env={**os.environ, **env}, check=True, capture_output=True)
    return env


def _valid_rows(data: Path, work: Path) -> Path:
    """The rows of `data` that this release's checks take, as a file of their own."""
    skipped = listings.Skipped()
    sent = pd.read_csv(data, dtype=str, keep_default_na=False)
    listings.read_csv(data, with_price=True, skipped=skipped)
    path = work / "valid.csv"
    work.mkdir(parents=True, exist_ok=True)
    sent.drop(index=sent.index[skipped.positions]).to_csv(path, index=False)
    return path


def _plain(tree: Path) -> list[str]:
    """The option that fits the bundled sales as a plain market in `tree`'s release (a release
    before located markets fits them plain without it)."""
    arguments = tree / "app" / "cli" / "train.py"
    return ["--plain"] if arguments.exists() and "--plain" in arguments.read_text() else []


def _serve(env: dict[str, str], tree: Path, free: bool = False) -> Served:
    """A server of the code checked out in `tree` (this one's, or the release before's), on
    core 0, or (`free`) on every core."""
    return Served([sys.executable, "-m", "app.serve"], env, "/health/ready", cwd=tree, free=free)


def located_market(work: Path) -> tuple[Path, bytes]:
    """King County's sales where they are here, else synthetic located ones; and a home."""
    if KING_COUNTY.exists():
        return KING_COUNTY, KING_COUNTY_HOME
    path = work / "located.csv"
    located_listings(20_000).to_csv(path, index=False)
    return path, LOCATED


# A home without a place costs the same whether or not its market's sales have coordinates.
UNMAPPED = "home without a place, located market without coordinates"


def measure_predict(row: Row, work: Path, args: argparse.Namespace) -> None:
    wrk = ensure_wrk()
    here = Path(__file__).resolve().parent.parent
    data, home = located_market(work)
    located = fitted(work / "located", data, here)
    unmapped = work / "without-coordinates.csv"  # the same sales, their areas and dates alone
    pd.read_csv(data, dtype=str).drop(columns=["latitude", "longitude"]).to_csv(
        unmapped, index=False
    )
    cases = [
        ("plain home, plain market", fitted(work / "plain", SACRAMENTO, here, "--plain"), BODY),
        ("located home, located market", located, home),
        ("home without a place, located market", located, BODY),
        (UNMAPPED, fitted(work / "unmapped", unmapped, here), BODY),
        ("located home, located market, comps=5", located, home),
    ]
    if args.before is not None:
        before = fitted(work / "before", SACRAMENTO, args.before, *_plain(args.before))
        before_located = fitted(work / "before-located", data, args.before)
        cases[:0] = [
            ("plain home, plain market, release before", before, BODY),
            ("located home, located market, release before", before_located, home),
        ]
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in cases}
    for _ in range(2):  # in turn, twice: the machine's mood moves between minutes
        for name, env, body in cases:
            tree = args.before if name.endswith("release before") else here
            path = "/predict?comps=5" if name.endswith("comps=5") else "/predict"
            with _serve(env, tree) as served:
                try:
                    results[name].append(measure_wrk(wrk, served.url + path, body, args, work))
                except AssertionError as exc:
                    served.log.seek(0)
                    log = served.log.read().decode(errors="replace")[-5000:]
                    raise AssertionError(f"{name}: {exc}\n{log}") from None
    reference = "plain home, plain market" + (", release before" if args.before else "")
    base = np.median([r["rps"] for r in results[reference]])
    located_before = results.get("located home, located market, release before")
    for name, found in results.items():
        rps = float(np.median([r["rps"] for r in found]))
        p99 = float(np.median([r["p99"] for r in found]))
        against = f"({rps / base:.2f}x"
        if located_before and name.startswith("located home"):
            before_rps = float(np.median([r["rps"] for r in located_before]))
            before_p99 = float(np.median([r["p99"] for r in located_before]))
            against += f"; {rps / before_rps:.2f}x, p99 {p99 / before_p99:.2f}x the located before"
        row(f"/predict, {name}", f"{rps:,.0f} req/s, p99 {p99:.2f} ms", against + ")")


# The located homes' CSV to the plain model of the same sales (`--plain`: "today's model").
TODAYS = "located homes, today's model (--plain) of the same sales"


def measure_batch(row: Row, work: Path, args: argparse.Namespace, rows: int = 100_000) -> None:
    here = Path(__file__).resolve().parent.parent
    data, _ = located_market(work)
    sales = pd.read_csv(data, dtype={"area": str})
    homes = sales.sample(rows, replace=True, random_state=0)
    located = homes[["beds", "baths", "sqft", "area", "latitude", "longitude"]]
    located = located[located["beds"] <= 20]
    plain_body = located[["beds", "baths", "sqft"]].to_csv(index=False).encode()
    located_body = located.to_csv(index=False).encode()
    today = fitted(work / "batch-today", data, here, "--plain")  # today's model of the sales
    cases = [
        ("plain", fitted(work / "batch-plain", SACRAMENTO, here, "--plain"), plain_body, here),
        (TODAYS, today, located_body, here),
        ("located", fitted(work / "batch-located", data, here), located_body, here),
    ]
    if args.before is not None:
        before = fitted(work / "batch-before", SACRAMENTO, args.before, *_plain(args.before))
        before_located = fitted(work / "batch-before-located", data, args.before)
        cases[:0] = [
            ("plain, release before", before, plain_body, args.before),
            ("located, release before", before_located, located_body, args.before),
        ]
    # A batch is one request a client waits on: its server runs on every core, as a user's
    # would; and the located batch once more on core 0 alone.
    cases.append(("located, on one core", cases[-1][1], located_body, here))
    seconds: dict[str, list[float]] = {name: [] for name, *_ in cases}
    for _ in range(3):
        for name, env, body, tree in cases:
            with _serve(env, tree, free=not name.endswith("one core")) as served:
                post_timed(served.url, "/predict/batch", body, "text/csv")  # warm
                timed = [
                    post_timed(served.url, "/predict/batch", body, "text/csv") for _ in range(3)
                ]
                seconds[name].append(float(np.median(timed)))
    base = len(located) / float(np.median(seconds[cases[0][0]]))
    located_before = seconds.get("located, release before", [])
    todays = float(np.median(seconds[TODAYS]))
    for name, found in seconds.items():
        rate = len(located) / float(np.median(found))
        against = f"({rate / base:.2f}x"
        if name in ("located", "located, on one core"):
            against += f"; {rate * todays / len(located):.2f}x the same CSV to today's model"
        if located_before and name in ("located", "located, on one core"):
            ratio = rate * float(np.median(located_before)) / len(located)
            against += f"; {ratio:.2f}x the same homes' CSV in the release before"
        row(f"CSV batch of {len(located):,} homes, {name}", f"{rate:,.0f} rows/s", against + ")")


_TRAIN_IN = (
    "import runpy, sys; sys.path.insert(0, sys.argv[1]); sys.argv = ['app.train', *sys.argv[2:]]; "
    "runpy.run_module('app.train', run_name='__main__')"
)


def measure_fit(row: Row, work: Path, before: Path | None = None, rows: int = 1_000_000) -> None:
    """`python -m app.train` of the located sales, and `--plain` of the same file; with
    `before`, that release's fit of the same rows without area, coordinates and dates, and of
    the same file, too."""
    path, plain_path = work / "fit.csv", work / "fit-plain.csv"
    sales = located_listings(rows, seed=1)
    sales.to_csv(path, index=False)
    sales[["beds", "baths", "sqft", "price"]].to_csv(plain_path, index=False)
    del sales
    cases: list[tuple[str, Path, list[str], Path | None]] = [
        ("plain", path, ["--plain"], None),
        ("located", path, [], None),
    ]
    if before is not None:
        cases.append(("release before, beds, baths, sqft and price alone", plain_path, [], before))
        cases.append(("release before, the same file", path, [], before))
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name, *_ in cases}
    for run in range(2):
        for case, (name, data, options, tree) in enumerate(cases):
            env = {
                **os.environ,
                "HOUSE_PRICE_MODEL_DIR": str(work / f"fit-{case}-{run}" / "models"),
                "HOUSE_PRICE_DATA_DIR": str(work / f"fit-{case}-{run}" / "data"),
            }
            train = ["-m", "app.train"] if tree is None else ["-c", _TRAIN_IN, str(tree)]
            command = [sys.executable, *train, "--data", str(data), *options]
            figures[name].append(peak_memory_of(command, env))
    wall = {k: float(np.median([w for w, _ in v])) for k, v in figures.items()}
    peak = {k: float(np.median([m for _, m in v])) for k, v in figures.items()}
    for name in figures:
        against = f"({wall[name] / wall['plain']:.2f}x the time, {peak[name] / peak['plain']:.2f}x"
        against += " the memory"
        if before is not None and name == "located":
            base = "release before, beds, baths, sqft and price alone"
            against += (
                f"; {wall[name] / wall[base]:.2f}x, {peak[name] / peak[base]:.2f}x the release "
                "before's fit of the same rows without area, coordinates and dates"
            )
            same = "release before, the same file"
            against += (
                f"; {wall[name] / wall[same]:.2f}x, {peak[name] / peak[same]:.2f}x its fit of "
                "the same file, whose area, coordinates and dates it passes over"
            )
        row(
            f"fit {rows:,} sales, {name}",
            f"{wall[name]:.1f} s, peak {peak[name]:.0f} MB",
            against + ")",
        )


_FILL = """
import dataclasses
import os
import sys
os.fsync = lambda fd: None  # durability is not what is measured
from app.config import Settings
from app.domain.fitting import fit_table
from app.domain.located_fitting import fit_located_table
from app.storage import open_storage
from tests.support import located_listings
kind, count, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
storage = open_storage(Settings())
if kind == "located":
    fits = [fit_located_table(located_listings(1000, seed=s), folds=3, source="bench")
            for s in range(50)]
else:
    fits = [fit_table(located_listings(1000, seed=s), folds=3, source="bench") for s in range(50)]
for i in range(first, first + count):
    registry = storage.market(f"m{i:05d}").registry
    model, card = fits[i % 50]
    if kind == "located":  # a version of its own (comps are kept by the version's checksum)
        model = dataclasses.replace(model, intercept=model.intercept + i * 1e-9)
    registry.activate(registry.save(model, card))
storage.close()
"""


def measure_markets(row: Row, work: Path, args: argparse.Namespace) -> None:
    here = Path(__file__).resolve().parent.parent
    for engine in args.engines.split(","):
        found = {}
        for kind in ("plain", "located"):
            env = {**deployment(work / f"markets-{engine}-{kind}", engine), **SETTINGS}
            start = time.perf_counter()
            half = args.markets // 2
            fills = [
                subprocess.Popen(
                    [sys.executable, "-c", _FILL, kind, str(n), str(first)],
                    cwd=here,
                    env={**os.environ, **env},
                )
                for n, first in ((half, 0), (args.markets - half, half))
            ]
            for fill in fills:
                assert fill.wait() == 0
            row(
                f"{args.markets:,} {kind} markets stored ({engine})",
                f"{time.perf_counter() - start:.0f} s",
                "(set-up)",
            )
            readies, rss = [], []
            for _ in range(2):
                with _serve(env, here) as served:
                    readies.append(served.ready_after)
                    rss.append(worker_rss_mb(served))
            with _serve({**env, "HOUSE_PRICE_WORKERS": "2"}, here) as served:
                time.sleep(1)  # both workers ready
                at_ready = [_uss_mb(pid) for pid in uvicorn_workers(served.process.pid)]
                uss, packs, cells, files = _valued_everywhere(
                    served, args.markets, kind == "located"
                )
            found[kind] = (
                float(np.median(readies)),
                float(np.median(rss)),
                (at_ready, uss),
                (packs, cells, files),
            )
        (plain_ready, plain_rss, (plain_at_ready, plain_uss), _) = found["plain"]
        (ready, rss_mb, (at_ready, uss), (packs, cells, files)) = found["located"]
        row(
            f"{args.markets:,} markets of 1,000 located sales ({engine}): ready",
            f"{ready:.2f} s",
            f"(plain: {plain_ready:.2f} s)",
        )
        row(
            f"{args.markets:,} markets of 1,000 located sales ({engine}): worker RSS at ready",
            f"{rss_mb:.0f} MB",
            f"({rss_mb - plain_rss:+.0f} MB over {args.markets:,} plain markets' "
            f"{plain_rss:.0f} MB)",
        )
        row(
            f"{args.markets:,} markets of 1,000 located sales ({engine}): each of 2 workers' "
            "USS at ready",
            " / ".join(f"{u:.0f}" for u in at_ready) + " MB",
            "(plain markets: " + " / ".join(f"{u:.0f}" for u in plain_at_ready) + " MB)",
        )
        row(
            f"{args.markets:,} markets of 1,000 located sales ({engine}): each of 2 workers' "
            "USS, every market valued",
            " / ".join(f"{u:.0f}" for u in uss) + " MB",
            f"({max(uss) - max(plain_uss):+.0f} MB over plain markets' "
            + " / ".join(f"{u:.0f}" for u in plain_uss)
            + " MB)",
        )
        row(
            f"{args.markets:,} markets of 1,000 located sales ({engine}): comps kept by the "
            "machine",
            f"{packs / (args.markets * 1000):.1f} bytes a sale",
            f"({packs / 2**20:.0f} MB, and {cells / 2**20:.0f} MB of the models' cells, in "
            f"{files:,} files mapped by both workers)",
        )


def _uss_mb(pid: int) -> float:
    """A process's unique set size: the pages it alone maps (private clean and dirty)."""
    total = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1])
    return total / 1024


def _valued_everywhere(
    served: Served, markets: int, located: bool
) -> tuple[list[float], int, int, int]:
    """Value a home of every market (one CSV batch, sent again until each of the workers has
    answered one), then each worker's USS; and the bytes of the packs both map: their comps,
    their cells, and how many."""
    rows = ["market,beds,baths,sqft,area,latitude,longitude"]
    rows += [f"m{i:05d},3,2,1800,north,47.52,-122.25" for i in range(markets)]
    batch = "\n".join(rows).encode()
    workers = uvicorn_workers(served.process.pid)
    assert len(workers) == 2, workers
    for _ in range(40 if located else 4):
        answer = httpx.post(
            f"{served.url}/predict/batch",
            content=batch,
            headers={"Content-Type": "text/csv", "Connection": "close"},
            timeout=600,
        )
        if answer.status_code != 200:
            served.log.seek(0)
            raise AssertionError(f"{answer.text[:500]}\n{served.log.read().decode()[-20000:]}")
        if not located:
            continue
        mapped = [mapped_packs(pid) for pid in workers]
        if all(len(m) >= markets for m in mapped):
            break
    else:
        if located:
            raise AssertionError("a worker did not value every market")
    both = set.intersection(*(mapped_packs(pid) for pid in workers)) if located else set()
    cells = 0  # the bytes of the models' cells, which the packs also carry
    for path in both:
        with open(path, "rb") as file:
            header = np.frombuffer(file.read(comps_pack.HEADER.itemsize), comps_pack.HEADER)
        cells += 16 * int(header["scale_cells"].sum())
    size = sum(Path(p).stat().st_size for p in both)
    return [_uss_mb(pid) for pid in workers], size - cells, cells, len(both)


def measure_all(row: Row, work: Path, args: argparse.Namespace) -> None:
    """Every part, as `make bench` runs them."""
    measure_predict(row, work, args)
    measure_batch(row, work, args)
    measure_fit(row, work, args.before)
    measure_markets(row, work, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, help="a checkout of the release before")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--markets", type=int, default=10_000)
    parser.add_argument("--engines", default="files,postgres")
    parser.add_argument("--parts", default="predict,batch,fit,markets")
    args = parser.parse_args()
    parts = set(args.parts.split(","))

    def measure(row: Row, work: Path) -> None:
        if "predict" in parts:
            measure_predict(row, work, args)
        if "batch" in parts:
            measure_batch(row, work, args)
        if "fit" in parts:
            measure_fit(row, work, args.before)
        if "markets" in parts:
            measure_markets(row, work, args)

    print_table(measure, "house-price-located-")


if __name__ == "__main__":
    main()
