"""The promotion gate: a challenger against the champion on the same held-out rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.domain.arrays import FloatArray
from app.domain.kinds import Model
from app.domain.located_model import LocatedModel
from app.domain.model import PriceModel
from app.domain.streaming import Moments
from app.domain.terms import Places

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


NEWEST_FRACTION = 0.1  # a located fit is judged on the newest tenth of its dated sales


def judge_newest(
    X: FloatArray,
    y: FloatArray,
    places: Places,
    champion: Model | None,
    tolerance: float,
    challenger_of: Callable[[npt.NDArray[np.bool_]], Model],
) -> Verdict:
    """The gate of a located fit: the challenger, fitted on the rows `challenger_of` is given,
    against the champion as it stands, on the newest tenth of the dated sales (without dates:
    a seeded fifth), as an assessor judges a model: by the mean absolute error there."""
    if champion is None:
        return Verdict(True, "no model was active")
    n = len(y)
    if n < MIN_ROWS_TO_COMPARE:
        return Verdict(
            False,
            f"too few listings ({n}) to compare with the active model "
            f"(at least {MIN_ROWS_TO_COMPARE}); send force=true to promote anyway",
        )
    held = np.zeros(n, dtype=bool)
    dated = np.flatnonzero(places.month >= 0)
    count = round(len(dated) * NEWEST_FRACTION)
    if count >= MIN_ROWS_TO_COMPARE:
        held[dated[np.argsort(places.month[dated], kind="stable")][-count:]] = True
        which = f"the newest {count} sales"
    else:
        count = max(1, round(n * HOLDOUT_FRACTION))
        held[np.random.default_rng(HOLDOUT_SEED).permutation(n)[:count]] = True
        which = f"{count} held-out rows"
    challenger = challenger_of(~held)
    rows, homes, prices = places.take(held), X[held], y[held]
    found = [
        m.predict(homes, rows) if isinstance(m, LocatedModel) else m.predict(homes)
        for m in (challenger, champion)
    ]
    challenger_mae, champion_mae = (float(np.mean(np.abs(f - prices))) for f in found)
    comparison = (
        f"MAE ${challenger_mae:,.0f} (new) vs ${champion_mae:,.0f} (active) on {which}, "
        f"tolerance {tolerance:.0%}"
    )
    verdict = challenger_mae <= champion_mae * (1 + tolerance)
    reason = f"not worse: {comparison}" if verdict else f"worse: {comparison}"
    return Verdict(verdict, reason, challenger_mae, champion_mae, count)
