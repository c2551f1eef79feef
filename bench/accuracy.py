"""Accuracy as assessors judge it: fit on the older 90 % of a market's sales, estimate the newest
10 % (part of `make bench`).

    .venv/bin/python -m bench.accuracy [--csv ../shared/data/king_county.csv]
                                       [--lightgbm-venv PATH] [--skip-lightgbm]

The sales are put in order of sale date; the oldest 90 % are fitted through `python -m
app.train --skip-invalid` as a user fits them, and the newest 10 % (less any row that fails a
check) are estimated through `POST /predict/batch` (CSV) on a real server. Beside it, in the
same run, LightGBM (gradient-boosted trees on log price, from a throw-away virtual environment:
a benchmark's dependency, never the service's) on the same rows, given first the columns the
service's model uses (beds, baths, sqft) and then every column of where and when the file has
(area, latitude, longitude, and the month of sale). Each row: median absolute error, the share
within 10 % and 20 % of the price, and the IAAO ratio statistics COD, PRD and PRB
(`app.domain.ratios`).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from app.domain.arrays import FloatArray
from app.domain.listings import Skipped, read_table
from app.domain.ratios import RatioStudy, ratio_study
from bench.harness import ROOT, Served

KING_COUNTY = ROOT.parent / "shared" / "data" / "king_county.csv"
WHERE_AND_WHEN = ["area", "latitude", "longitude", "month"]

# Run by the throw-away venv's Python: fit on train.csv, estimate test.csv, write the estimates.
_LIGHTGBM = """
import sys
import numpy as np
import pandas as pd
import lightgbm
train, test = pd.read_csv(sys.argv[1]), pd.read_csv(sys.argv[2])
columns = sys.argv[4].split(",")
if "area" in columns:
    areas = sorted(set(train["area"].astype(str)))
    for frame in (train, test):
        frame["area"] = pd.Categorical(frame["area"].astype(str), categories=areas)
model = lightgbm.LGBMRegressor(
    n_estimators=2000, learning_rate=0.03, num_leaves=63, min_child_samples=10,
    subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=0, verbose=-1,
)
model.fit(train[columns], np.log(train["price"]))
np.savetxt(sys.argv[3], np.exp(model.predict(test[columns])))
"""


def split_by_date(path: Path, work: Path) -> tuple[Path, pd.DataFrame]:
    """The oldest 90 % of sales as a CSV to fit; the newest 10 % that pass the checks."""
    sales = pd.read_csv(path, dtype={"area": str})
    sales = sales.sort_values("sold_at", kind="stable").reset_index(drop=True)
    cut = int(len(sales) * 0.9)
    train = work / "train.csv"
    sales.iloc[:cut].to_csv(train, index=False)
    skipped = Skipped()
    newest = read_table(sales.iloc[cut:].to_csv(index=False).encode(), skipped=skipped)
    if skipped.count:
        print(f"newest sales: {skipped.describe()}", flush=True)
    return train, newest


Estimates = tuple[FloatArray, FloatArray, FloatArray]  # price, low and high end of the range
HOME = ["beds", "baths", "sqft", "area", "latitude", "longitude", "sold_at"]


def served_estimates(
    train: Path,
    newest: pd.DataFrame,
    work: Path,
    plain: bool = False,
    asked: tuple[list[str], ...] = (HOME,),
) -> tuple[list[Estimates], str]:
    """Fit the older sales with `python -m app.train`, estimate the newest by /predict/batch,
    each as of its sale date, once for each list of columns `asked` (a home's area and
    coordinates by default): estimates and range of each, and the rows the fit left out."""
    kind = "plain" if plain else "located"
    env = {
        "HOUSE_PRICE_MODEL_DIR": str(work / kind / "models"),
        "HOUSE_PRICE_DATA_DIR": str(work / kind / "data"),
        "HOUSE_PRICE_ACCESS_LOG": "false",
        "HOUSE_PRICE_LOG_LEVEL": "warning",
    }
    fit = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.train",
            "--data",
            str(train),
            "--skip-invalid",
            *(["--plain"] if plain else []),
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    said = [line for line in fit.stdout.splitlines() if line.startswith("rows left out")]
    left_out = said[0].removeprefix("rows left out") if said else ""
    answers = []
    with Served([sys.executable, "-m", "app.serve"], env, "/health/ready") as served:
        for columns in asked:
            homes = newest[[c for c in columns if c in newest.columns]]
            homes = homes.rename(columns={"sold_at": "as_of"})
            answer = httpx.post(
                served.url + "/predict/batch",
                content=homes.to_csv(index=False).encode(),
                headers={"Content-Type": "text/csv"},
                timeout=120,
            )
            answer.raise_for_status()
            table = pd.read_csv(io.BytesIO(answer.content))
            price, low, high = (
                table[c].to_numpy(dtype=np.float64) for c in ("price", "price_low", "price_high")
            )
            answers.append((price, low, high))
    return answers, left_out.strip()


def lightgbm_python(work: Path, venv: Path | None) -> Path:
    venv = venv or work / "lightgbm-venv"
    python = venv / "bin" / "python"
    ready = python.exists() and (
        subprocess.run([str(python), "-c", "import lightgbm"], capture_output=True).returncode == 0
    )
    if not ready:
        print("installing LightGBM into a throw-away venv", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "lightgbm", "pandas", "scikit-learn"],
            check=True,
        )
    return python


def lightgbm_estimates(
    python: Path, train: Path, newest: pd.DataFrame, columns: list[str], work: Path
) -> FloatArray:
    fitted = pd.read_csv(train, dtype={"area": str})
    fitted = fitted.loc[_valid(fitted)].copy()
    test = newest.copy()
    for frame in (fitted, test):
        if "sold_at" in frame.columns:
            sold = pd.to_datetime(frame["sold_at"])
            frame["month"] = (sold.dt.year - 2000) * 12 + sold.dt.month
    fitted.to_csv(work / "gbm-train.csv", index=False)
    test.to_csv(work / "gbm-test.csv", index=False)
    out = work / "gbm-estimates.txt"
    files = [work / "gbm-train.csv", work / "gbm-test.csv", out]
    subprocess.run(
        [str(python), "-c", _LIGHTGBM, *(str(f) for f in files), ",".join(columns)], check=True
    )
    return np.loadtxt(out)


def _given(newest: pd.DataFrame, column: str) -> bool:
    """Whether the sales carry `column` (the month: a sale date) in any row: a market without
    an area or coordinates is compared with LightGBM given what it has."""
    name = "sold_at" if column == "month" else column
    return name in newest.columns and bool(newest[name].notna().any())


def _valid(frame: pd.DataFrame) -> list[bool]:
    """The rows the service would keep (the same checks `--skip-invalid` applies)."""
    skipped = Skipped()
    read_table(frame.to_csv(index=False).encode(), skipped=skipped)
    left_out = set(skipped.positions)
    return [i not in left_out for i in range(len(frame))]


def line(name: str, study: RatioStudy, held: Any = None) -> str:
    """One model's row; `held`, whether its 90 % range held each price (sorted by price)."""
    text = (
        f"{name:<44}{study.median_ape * 100:>8.1f} %{study.within_10 * 100:>8.1f} %"
        f"{study.within_20 * 100:>8.1f} %{study.cod:>8.1f}{study.prd:>8.3f}{study.prb:>+8.3f}"
    )
    if held is not None:
        thirds = " ".join(f"{np.mean(t):.3f}" for t in np.array_split(held, 3))
        text += f"{np.mean(held):>8.3f}  {thirds}"
    return text


def report(csv: Path, lightgbm_venv: Path | None = None, lightgbm: bool = True) -> str:
    """The table, as printed."""
    with tempfile.TemporaryDirectory(prefix="house-price-accuracy-") as tmp:
        work = Path(tmp)
        train, newest = split_by_date(csv, work)
        prices = newest["price"].to_numpy(dtype=np.float64)
        order = np.argsort(prices, kind="stable")
        rows = []
        # The located market also values the same homes sent with their area and no
        # coordinates (no cells, no comps): what a home whose address is not placed gets.
        unplaced = [c for c in HOME if c not in ("latitude", "longitude")]
        for plain, labels, asked in (
            (True, ["house-price, plain (--plain)"], (HOME,)),
            (
                False,
                ["house-price, located", "house-price, located, no coordinates sent"],
                (HOME, unplaced),
            ),
        ):
            answers, left_out = served_estimates(train, newest, work, plain, asked)
            for label, (estimates, low, high) in zip(labels, answers, strict=True):
                held = ((low <= prices) & (prices <= high))[order]
                rows.append(line(label, ratio_study(estimates, prices), held))
        if lightgbm:
            python = lightgbm_python(work, lightgbm_venv)
            where = [c for c in WHERE_AND_WHEN if _given(newest, c)]
            for label, columns in (
                ("LightGBM, beds, baths, sqft", ["beds", "baths", "sqft"]),
                ("LightGBM, the same + where and when", ["beds", "baths", "sqft", *where]),
            ):
                found = lightgbm_estimates(python, train, newest, columns, work)
                rows.append(line(label, ratio_study(found, prices)))
    head = [
        f"{csv.name}: fitted on the oldest 90 % of sales by date, the newest {len(prices):,} "
        "estimated",
        *([f"fit: {left_out}"] if left_out else []),
        f"{'model':<44}{'med err':>10}{'≤10 %':>10}{'≤20 %':>10}{'COD':>8}{'PRD':>8}{'PRB':>8}"
        f"{'90 % in':>8}  by third of price",
    ]
    return "\n".join(head + rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--csv", type=Path, default=KING_COUNTY, help="sales with sold_at")
    parser.add_argument("--lightgbm-venv", type=Path, help="a venv with lightgbm installed")
    parser.add_argument("--skip-lightgbm", action="store_true")
    args = parser.parse_args()
    print(report(args.csv, args.lightgbm_venv, not args.skip_lightgbm))


if __name__ == "__main__":
    main()
