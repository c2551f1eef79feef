"""The offline fitting command: `python -m app.train --data FILE` imports, fits and activates."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.arguments import market_name
from app.domain.errors import ServiceError

STREAM_CHUNK_ROWS = 1_000_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m app.train",
        description="Import a CSV of sold listings into the listing store, fit ordinary least "
        "squares of price on beds, baths and sqft, store the model as a new version and make "
        "it active.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="CSV with beds, baths, sqft, price (optional sold_at); without it, the current "
        "training set of the store is refitted",
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="add FILE to the current training set instead of starting a new one with it",
    )
    parser.add_argument(
        "--market",
        type=market_name,
        help="the market (town) to fit, created by its first fit (default: "
        "HOUSE_PRICE_DEFAULT_MARKET)",
    )
    parser.add_argument("--model-dir", type=Path, help="overrides HOUSE_PRICE_MODEL_DIR")
    parser.add_argument("--data-dir", type=Path, help="overrides HOUSE_PRICE_DATA_DIR")
    parser.add_argument(
        "--no-activate", action="store_true", help="store the new version without making it active"
    )
    parser.add_argument(
        "--window-days",
        type=int,
        metavar="N",
        help="fit on the sales of the last N days only (needs sold_at; counted back from the "
        "newest sale)",
    )
    parser.add_argument(
        "--chunk-rows",
        type=int,
        metavar="N",
        default=STREAM_CHUNK_ROWS,
        help="rows read at a time (the fit is solved from sufficient statistics, so memory "
        "grows by 32 bytes a row, not by the size of a table)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="also write the model card (JSON) and diagnostic plots (PNG, needs the `report` "
        "extra: matplotlib) into DIR",
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="leave out the rows of FILE that fail a check (a county's file has a few), fit on "
        "the rest, and say which: the count and the first lines with their reasons are printed "
        "and kept in the card; only the rows kept are stored (without it, a bad row refuses "
        "the file)",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="fit the plain model (least squares of price on beds, baths and sqft) even when "
        "the sales carry an area or coordinates, which otherwise make a located model",
    )
    parser.add_argument(
        "--keep-outliers",
        action="store_true",
        help="keep every sale in a located fit (by default sales whose ratio to a first fit "
        "lies beyond 3 interquartile ranges are left out, and counted in the card)",
    )
    parser.add_argument(
        "--if-no-active",
        action="store_true",
        help="do nothing when a model version is already active (for start-up scripts)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Imported once the arguments are read: `--help` and a usage error answer at once.
    from app.cli.fit import render, train
    from app.config import Settings
    from app.observability.context import acting

    try:
        with acting(via="python -m app.train"):
            card = train(args, Settings())
    except FileNotFoundError as exc:
        print(f"error: {exc.filename}: no such file", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(f"error: {args.data or 'store'}: {_describe(exc.detail)}", file=sys.stderr)
        return 2
    if card is None:
        print("a model version is active; nothing to fit")
        return 0
    print(render(card, active=not args.no_activate))
    return 0


def _describe(detail: Any) -> str:
    if isinstance(detail, list):
        return "\n  ".join(["the file has bad rows:", *(e.msg for e in detail)])
    return str(detail)
