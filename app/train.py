"""The offline fitting command: `python -m app.train --data FILE` imports, fits and activates."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import ServiceError
from .fitting import fit_table
from .jobs import fit_lock
from .listings import read_table
from .registry import Registry
from .store import Store


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
    parser.add_argument("--model-dir", type=Path, help="overrides HOUSE_PRICE_MODEL_DIR")
    parser.add_argument("--data-dir", type=Path, help="overrides HOUSE_PRICE_DATA_DIR")
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


def train(args: argparse.Namespace, settings: Settings) -> dict[str, Any] | None:
    registry = Registry(args.model_dir or settings.model_dir)
    store = Store(args.data_dir or settings.data_dir)
    # Checked in full before the store or the registry is touched: a bad file writes nothing.
    frame = read_table(args.data) if args.data else None
    with fit_lock(registry.root):
        if args.if_no_active and registry.active_version() is not None:
            return None
        if frame is not None:
            store.add(frame, "append" if args.append else "replace")
        snapshot = store.snapshot()
        if snapshot is None:
            raise ServiceError("the listing store is empty: give a CSV with --data")
        training = store.read(snapshot)
        model, card = fit_table(training, folds=settings.cv_folds, source=str(args.data or "store"))
        card["training"].update({"set": snapshot.set_id, "batches": list(snapshot.batches)})
        version = registry.save(model, card)
        if not args.no_activate:
            registry.activate(version)
    return registry.card(version)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
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
        return "\n  ".join(["the file has bad rows:", *(str(e["msg"]) for e in detail)])
    return str(detail)


if __name__ == "__main__":
    sys.exit(main())
