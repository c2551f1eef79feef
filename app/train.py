"""The offline fitting command: `python -m app.train --data FILE` fits, stores and activates."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import ServiceError
from .fitting import fit_and_store
from .listings import read_table
from .registry import Registry


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m app.train",
        description="Fit ordinary least squares of price on beds, baths and sqft from a CSV of "
        "sold listings, store it as a new model version and make it active.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("data/sacramento.csv"),
        help="CSV with beds, baths, sqft, price",
    )
    parser.add_argument("--model-dir", type=Path, help="overrides HOUSE_PRICE_MODEL_DIR")
    parser.add_argument(
        "--no-activate", action="store_true", help="store the new version without making it active"
    )
    parser.add_argument(
        "--if-no-active",
        action="store_true",
        help="do nothing when a model version is already active (for start-up scripts)",
    )
    return parser.parse_args(argv)


def render(card: dict[str, Any], active: bool) -> str:
    """A readable summary of a model card for the terminal."""
    cv = card["metrics"]["cv"]
    lines = [
        f"model version   {card['version']}{'  (active)' if active else '  (stored, not active)'}",
        f"rows used       {card['training']['rows']:,}  from {card['training']['source']}",
        "",
        f"{'term':<12}{'coefficient':>16}  unit",
    ]
    for name in card["features"]:
        coef = card["coefficients"][name]
        lines.append(f"{name:<12}{coef['value']:>16,.2f}  {coef['unit']}")
    lines.append(f"{'intercept':<12}{card['intercept']:>16,.2f}  $")
    lines += [
        "",
        f"{cv['folds']}-fold cross-validation (shuffled, seed {cv['seed']}):",
        f"  R²                 {cv['r2']:.3f}",
        f"  MAE                ${cv['mae']:,.0f}",
        f"  RMSE               ${cv['rmse']:,.0f}",
        f"  median abs % error {cv['median_ape'] * 100:.1f} %",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings()
    registry = Registry(args.model_dir or settings.model_dir)
    if args.if_no_active and registry.active_version() is not None:
        print(f"model version {registry.active_version()} is active; nothing to fit")
        return 0
    try:
        frame = read_table(args.data)
        _, card = fit_and_store(
            registry,
            frame,
            folds=settings.cv_folds,
            source=str(args.data),
            activate=not args.no_activate,
        )
    except FileNotFoundError:
        print(f"error: {args.data}: no such file", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(f"error: {args.data}: {_describe(exc.detail)}", file=sys.stderr)
        return 2
    print(render(card, active=not args.no_activate))
    return 0


def _describe(detail: Any) -> str:
    if isinstance(detail, list):
        return "\n  ".join(["the file has bad rows:", *(str(e["msg"]) for e in detail)])
    return str(detail)


if __name__ == "__main__":
    sys.exit(main())
