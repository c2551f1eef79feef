"""The promotion gate: a challenger against the champion on the same held-out rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.domain.arrays import FloatArray
from app.domain.kinds import Model
from app.domain.model import PriceModel
from app.domain.streaming import Moments

HOLDOUT_FRACTION = 0.2

HOLDOUT_SEED = 0

MIN_ROWS_TO_COMPARE = 10


@dataclass(frozen=True)
class Verdict:
    """Whether a new model may replace the active one, and the evidence."""

    promote: bool
    reason: str
    challenger_mae: float | None = None
    champion_mae: float | None = None
    holdout_rows: int = 0


def judge(
    X: FloatArray,
    y: FloatArray,
    champion: Model | None,
    tolerance: float,
    seed: int = HOLDOUT_SEED,
) -> Verdict:
    """`judge_chunks` of one table of features and prices."""
    return judge_chunks([np.column_stack([X, y])], champion, tolerance, seed)


def judge_chunks(
    chunks: list[FloatArray],
    champion: Model | None,
    tolerance: float,
    seed: int = HOLDOUT_SEED,
) -> Verdict:
    """The promotion gate: compare a challenger and the champion on the same held-out rows.

    A seeded 20 % of the new training set (rows of beds, baths, sqft, price, in chunks) is held
    out. The challenger is fitted on the other 80 % by least squares, from sufficient statistics
    a chunk at a time, so only the held-out rows are gathered; the champion is the active model
    as it stands. The new version is promoted when the challenger's mean absolute error on the
    held-out rows is at most the champion's times (1 + tolerance).
    """
    if champion is None:
        return Verdict(True, "no model was active")
    n = sum(len(c) for c in chunks)
    if n < MIN_ROWS_TO_COMPARE:
        return Verdict(
            False,
            f"too few listings ({n}) to compare with the active model "
            f"(at least {MIN_ROWS_TO_COMPARE}); send force=true to promote anyway",
        )
    cut = max(1, round(n * HOLDOUT_FRACTION))
    held = np.zeros(n, dtype=bool)
    held[np.random.default_rng(seed).permutation(n)[:cut]] = True
    kept = Moments(chunks[0][: min(len(chunks[0]), 1000)].mean(axis=0))
    held_rows: list[FloatArray] = []
    start = 0
    for chunk in chunks:
        mask = held[start : start + len(chunk)]
        kept.add(chunk[~mask])
        held_rows.append(chunk[mask])
        start += len(chunk)
    weights, intercept = kept.solve()
    challenger = PriceModel.from_weights(weights, intercept)
    rows = np.concatenate(held_rows)
    X, y = rows[:, :3], rows[:, 3]
    challenger_mae = float(np.mean(np.abs(challenger.predict(X) - y)))
    champion_mae = float(np.mean(np.abs(champion.predict(X) - y)))
    limit = champion_mae * (1 + tolerance)
    comparison = (
        f"held-out MAE ${challenger_mae:,.0f} (new) vs ${champion_mae:,.0f} (active) "
        f"on {cut} rows, tolerance {tolerance:.0%}"
    )
    if challenger_mae <= limit:
        return Verdict(True, f"not worse: {comparison}", challenger_mae, champion_mae, cut)
    return Verdict(False, f"worse: {comparison}", challenger_mae, champion_mae, cut)
