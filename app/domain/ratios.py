"""The assessors' ratio statistics of estimates against sale prices (IAAO's ratio studies).

The ratio of a sale is its estimate over its price. COD (coefficient of dispersion) is the mean
absolute deviation of the ratios from their median, as a percentage of the median: how uniform
the estimates are (IAAO: at most 15 for homes). PRD (price-related differential) is the mean
ratio over the ratio of the sums: above 1 when cheap homes are valued relatively high
(regressive), below 1 when dear ones are (IAAO: 0.98 to 1.03). PRB (price-related bias) is the
slope of the ratios' relative deviation from their median on the base-2 logarithm of value,
value taken as IAAO does, half the estimate over the median ratio and half the price: the
change in the ratio when value doubles (IAAO: within ±0.05).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from app.domain.arrays import FloatArray


@dataclass(frozen=True)
class RatioStudy:
    """How a set of estimates compares with the sale prices they estimate."""

    sales: int
    median_ape: float  # median absolute error, a share of the price
    within_10: float  # share of estimates within 10 % of the price
    within_20: float
    median_ratio: float
    cod: float
    prd: float
    prb: float

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def ratio_study(estimates: FloatArray, prices: FloatArray) -> RatioStudy:
    """The ratio statistics of `estimates` against `prices` (same length, prices above 0)."""
    estimates = np.asarray(estimates, dtype=np.float64)
    prices = np.asarray(prices, dtype=np.float64)
    if len(estimates) != len(prices) or len(prices) < 2:
        raise ValueError("a ratio study needs two or more estimates, each with its sale price")
    if not (np.all(np.isfinite(estimates)) and np.all(prices > 0)):
        raise ValueError("a ratio study needs finite estimates and prices above 0")
    ratios = estimates / prices
    errors = np.abs(ratios - 1)
    median = float(np.median(ratios))
    return RatioStudy(
        sales=len(prices),
        median_ape=float(np.median(errors)),
        # In dollars, so that a sale 10 % off is within 10 % (0.1 * price is exact where
        # 1.1 - 1 is not).
        within_10=float(np.mean(np.abs(estimates - prices) <= 0.10 * prices)),
        within_20=float(np.mean(np.abs(estimates - prices) <= 0.20 * prices)),
        median_ratio=median,
        cod=float(100 * np.mean(np.abs(ratios - median)) / median),
        prd=float(np.mean(ratios) / (estimates.sum() / prices.sum())),
        prb=prb(estimates, prices),
    )


SPREAD_LIMITS = (0.8, 1.25)  # the most an estimate's distance from the centre is scaled by


def prb(estimates: FloatArray, prices: FloatArray) -> float:
    """The PRB of `ratio_study` alone."""
    ratios = estimates / prices
    median = float(np.median(ratios))
    deviation = (ratios - median) / median
    log_value = np.log2(np.maximum(0.5 * estimates / median + 0.5 * prices, np.finfo(float).tiny))
    centred = log_value - log_value.mean()
    spread = float(centred @ centred)
    return float(centred @ (deviation - deviation.mean()) / spread) if spread > 0 else 0.0


def spread_about(logs: Any, spread: tuple[float, float]) -> Any:
    """Log estimates (an array or one float) spread about a centre by a factor: c + b (l - c)."""
    centre, factor = spread
    return centre + factor * (logs - centre)


def equity_spread(log_estimates: FloatArray, prices: FloatArray) -> tuple[float, float]:
    """The centre c and factor b that make estimates exp(c + b (log e - c)) neither regressive
    nor progressive (PRB 0) on these sales: c the median log estimate, b found by bisection
    within SPREAD_LIMITS (PRB rises with b)."""
    centre = float(np.median(log_estimates))

    def bias(b: float) -> float:
        return prb(np.exp(spread_about(log_estimates, (centre, b))), prices)

    low, high = SPREAD_LIMITS
    if bias(low) >= 0:
        return centre, low
    if bias(high) <= 0:
        return centre, high
    for _ in range(40):
        mid = 0.5 * (low + high)
        if bias(mid) < 0:
            low = mid
        else:
            high = mid
    return centre, 0.5 * (low + high)
