"""A fitted model's report: its card as JSON and diagnostic plots as PNG (needs matplotlib)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.domain import listings
from app.domain.errors import ServiceError
from app.domain.least_squares import out_of_fold


def write_report(folder: Path, card: dict[str, Any], frame: pd.DataFrame) -> list[Path]:
    """Write `<version>.json` and `<version>.png` into `folder`; return their paths.

    The plots use out-of-fold estimates (each row estimated by a model fitted without it), so
    they show the errors to expect on new sales rather than the flattering in-sample fit.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ServiceError(
            "the report needs matplotlib: pip install 'house-price[report]'"
        ) from None
    folder.mkdir(parents=True, exist_ok=True)
    version = card["version"]
    card_path = folder / f"{version}.json"
    card_path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")

    X, y = listings.features(frame), listings.target(frame)
    cv = card["metrics"]["cv"]
    predicted = out_of_fold(X, y, folds=cv["folds"], seed=cv["seed"])
    residual = y - predicted
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 5.5), dpi=100)
    left.scatter(predicted / 1e3, y / 1e3, s=6, alpha=0.5)
    edge = [min(predicted.min(), y.min()) / 1e3, max(predicted.max(), y.max()) / 1e3]
    left.plot(edge, edge, color="black", linewidth=1, label="estimate = sale price")
    left.set(xlabel="estimated price ($k, out-of-fold)", ylabel="sale price ($k)")
    left.set_title(f"Estimated vs actual (R² {cv['r2']:.3f}, MAE ${cv['mae']:,.0f})")
    left.legend(loc="upper left")
    right.scatter(predicted / 1e3, residual / 1e3, s=6, alpha=0.5)
    right.axhline(0, color="black", linewidth=1)
    order = np.argsort(predicted)
    interval = card.get("interval", {})
    if interval:
        scale = interval["scale"]
        low_q, high_q = interval["bounds_at_default_level"]
        s = np.maximum(
            scale["a"] + scale["b"] * np.maximum(predicted[order], scale["price_floor"]),
            scale["minimum"],
        )
        level = interval["default_level"]
        right.plot(predicted[order] / 1e3, low_q * s / 1e3, color="tab:red", linewidth=1)
        right.plot(
            predicted[order] / 1e3,
            high_q * s / 1e3,
            color="tab:red",
            linewidth=1,
            label=f"{level:.0%} range",
        )
        right.legend(loc="upper left")
    right.set(xlabel="estimated price ($k, out-of-fold)", ylabel="sale price − estimate ($k)")
    right.set_title("Residuals vs estimate")
    figure.suptitle(f"house-price model {version}: {len(y):,} sales")
    figure.tight_layout()
    plot_path = folder / f"{version}.png"
    figure.savefig(plot_path)
    plt.close(figure)
    return [card_path, plot_path]
