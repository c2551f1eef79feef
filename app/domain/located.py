"""Fitting a located model: choose the penalties from the data, flag outliers, solve exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.domain.arrays import FloatArray
from app.domain.located_model import LocatedModel
from app.domain.terms import (
    CELL_SIZES_KM,
    NO_KEY,
    IntArray,
    Places,
    Projection,
    codes,
    design,
    moment_strength,
    penalty,
    solve,
    time_strength,
)

OUTLIER_IQRS = 3.0  # a sale whose log ratio lies beyond 3 IQR of the quartiles is an outlier
WEAK = 1.0  # the months' penalty while the other penalties are chosen


@dataclass(frozen=True)
class Vocabulary:
    """What a located model knows of its market's places: its areas, cells and months."""

    areas: tuple[str, ...]  # sorted
    projection: Projection | None  # None: no sale had coordinates
    cells: tuple[IntArray, ...]  # each scale's sorted cell keys
    first_month: int  # -1 when no sale had a date
    last_month: int
    centre: tuple[float, float, float]  # the median beds, baths and log sqft

    @classmethod
    def of(cls, X: FloatArray, places: Places) -> Vocabulary:
        areas = tuple(sorted({a for a in places.area.tolist() if a is not None}))
        located = np.isfinite(places.latitude) & np.isfinite(places.longitude)
        projection = None
        cells: tuple[IntArray, ...] = ()
        if located.any():
            projection = Projection(
                float(np.median(places.latitude[located])),
                float(np.median(places.longitude[located])),
            )
            cells = tuple(
                np.unique(keys[keys != NO_KEY])
                for keys in (
                    projection.cells(places.latitude, places.longitude, s) for s in CELL_SIZES_KM
                )
            )
        dated = places.month[places.month >= 0]
        first, last = (int(dated.min()), int(dated.max())) if len(dated) else (-1, -1)
        centre = (
            float(np.median(X[:, 0])),
            float(np.median(X[:, 1])),
            float(np.median(np.log(X[:, 2]))),
        )
        return cls(areas, projection, cells, first, last, centre)

    @property
    def months(self) -> int:
        return 0 if self.first_month < 0 else self.last_month - self.first_month + 1

    def size(self, X: FloatArray) -> FloatArray:
        """Beds, baths and log sqft, each less the market's median, and that log's square."""
        out = np.empty((len(X), 4))
        out[:, 0] = X[:, 0] - self.centre[0]
        out[:, 1] = X[:, 1] - self.centre[1]
        out[:, 2] = np.log(X[:, 2]) - self.centre[2]
        out[:, 3] = out[:, 2] * out[:, 2]
        return out

    def area_codes(self, area: npt.NDArray[np.object_]) -> npt.NDArray[np.intp]:
        index = {a: i for i, a in enumerate(self.areas)}
        return np.fromiter((index.get(a, -1) for a in area.tolist()), np.intp, len(area))

    def cell_codes(self, places: Places) -> list[npt.NDArray[np.intp]]:
        if self.projection is None:
            return []
        return [
            codes(self.projection.cells(places.latitude, places.longitude, s), vocab)
            for s, vocab in zip(CELL_SIZES_KM, self.cells, strict=True)
        ]

    def month_codes(self, month: IntArray) -> npt.NDArray[np.intp]:
        """Months as 0 .. m - 1 of the index (clipped to it), -1 without a date."""
        if self.first_month < 0:
            return np.full(len(month), -1, dtype=np.intp)
        found = np.clip(month - self.first_month, 0, self.months - 1)
        return np.where(month >= 0, found, -1).astype(np.intp)

    def groups(self, places: Places) -> list[tuple[str, npt.NDArray[np.intp], int]]:
        """The penalised groups of these homes: area, then each cell scale."""
        found: list[tuple[str, npt.NDArray[np.intp], int]] = []
        if self.areas:
            found.append(("area", self.area_codes(places.area), len(self.areas)))
        for s, cell, vocab in zip(CELL_SIZES_KM, self.cell_codes(places), self.cells, strict=False):
            found.append((cell_term(s), cell, len(vocab)))
        return found


def cell_term(size: float) -> str:
    return f"cell {size:g} km"


@dataclass(frozen=True)
class Solved:
    """The coefficients of one solve, with the columns they belong to."""

    beta: FloatArray
    strengths: dict[str, float]
    fitted: FloatArray  # log price of each training row


def fit_terms(
    vocabulary: Vocabulary,
    X: FloatArray,
    log_price: FloatArray,
    places: Places,
    strengths: dict[str, float] | None = None,
) -> Solved:
    """Solve for every term; with no `strengths`, choose them from the data first.

    The penalties are chosen term by term, each from the residuals of the terms before it (the
    months, then areas, then coarse cells, then fine): λ = σ²/τ², within-group variance over
    between-group variance, by the method of moments (`terms.moment_strength`)."""
    size = vocabulary.size(X)
    groups = vocabulary.groups(places)
    months = vocabulary.month_codes(places.month)
    if strengths is None:
        strengths = choose_strengths(size, groups, months, vocabulary.months, log_price)
    matrix, blocks = design(size, groups, months, vocabulary.months)
    beta = solve(matrix, penalty(blocks, strengths), log_price)
    return Solved(beta, strengths, np.asarray(matrix @ beta, dtype=np.float64))


def choose_strengths(
    size: FloatArray,
    groups: list[tuple[str, npt.NDArray[np.intp], int]],
    months: npt.NDArray[np.intp],
    levels: int,
    y: FloatArray,
) -> dict[str, float]:
    """Each group's penalty from the residuals of the fit of the terms before it, the months
    held by a weak penalty; then the months' penalty from the steps of the last fit's index."""
    strengths: dict[str, float] = {"time": WEAK}
    used: list[tuple[str, npt.NDArray[np.intp], int]] = []
    matrix, blocks = design(size, used, months, levels)
    beta = solve(matrix, penalty(blocks, strengths), y)
    residual = y - matrix @ beta
    for term, found, count in groups:
        strengths[term] = moment_strength(residual, found, count)
        used.append((term, found, count))
        matrix, blocks = design(size, used, months, levels)
        beta = solve(matrix, penalty(blocks, strengths), y)
        residual = y - matrix @ beta
    start, end = blocks.months
    if end > start:
        effects = np.append(beta[start:end], 0.0)
        sizes = np.bincount(months[months >= 0], minlength=levels).astype(np.float64)
        strengths["time"] = time_strength(effects, sizes, float(np.var(residual)))
    return strengths


def outliers(log_price: FloatArray, fitted: FloatArray) -> npt.NDArray[np.bool_]:
    """Sales whose log ratio (estimate over price) lies beyond 3 IQR outside the quartiles."""
    ratio = fitted - log_price
    q1, q3 = np.quantile(ratio, [0.25, 0.75])
    spread = OUTLIER_IQRS * (q3 - q1)
    flagged: npt.NDArray[np.bool_] = (ratio < q1 - spread) | (ratio > q3 + spread)
    return flagged


HELD_OUT = 0.10  # the newest share of sales an out-of-time figure is measured on
MIN_HELD_OUT = 20


def to_model(vocabulary: Vocabulary, solved: Solved) -> LocatedModel:
    """The model of a solve: each term's coefficients beside the places they belong to."""
    beta, at = solved.beta, 5
    areas = len(vocabulary.areas)
    area_effects = tuple(beta[at : at + areas].tolist())
    at += areas
    cell_effects = []
    for cells in vocabulary.cells:
        cell_effects.append(np.ascontiguousarray(beta[at : at + len(cells)], "<f8").tobytes())
        at += len(cells)
    months = tuple([*beta[at : at + max(vocabulary.months - 1, 0)].tolist(), 0.0])
    projection = vocabulary.projection
    return LocatedModel(
        intercept=float(beta[0]),
        centre=vocabulary.centre,
        size=(float(beta[1]), float(beta[2]), float(beta[3]), float(beta[4])),
        areas=vocabulary.areas,
        area_effects=area_effects,
        projection=None if projection is None else (projection.latitude, projection.longitude),
        cells=tuple(np.ascontiguousarray(c, "<i8").tobytes() for c in vocabulary.cells),
        cell_effects=tuple(cell_effects),
        first_month=vocabulary.first_month,
        month_effects=months if vocabulary.months else (),
        strengths=dict(solved.strengths),
    )


@dataclass(frozen=True)
class LocatedFit:
    """A located model, what was left out of it, and its estimates of sales it did not see."""

    model: LocatedModel
    kept: npt.NDArray[np.bool_]  # the sales the model was fitted on (outliers are not)
    out_of_fold: FloatArray  # price, for the kept sales
    out_of_time: tuple[FloatArray, FloatArray] | None  # estimates and prices of the newest


def fit_located(
    X: FloatArray, price: FloatArray, places: Places, *, folds: int, trim: bool = True
) -> LocatedFit:
    """Fit, leave out outliers (`trim`) and fit again; estimate each kept sale out of fold,
    and the newest tenth of dated sales from a fit of the rest."""
    log_price = np.log(price)
    kept = np.ones(len(price), dtype=bool)
    vocabulary = Vocabulary.of(X, places)
    solved = fit_terms(vocabulary, X, log_price, places)
    if trim:
        kept = ~outliers(log_price, solved.fitted)
        if not kept.all():
            places = places.take(kept)
            X, log_price = X[kept], log_price[kept]
            vocabulary = Vocabulary.of(X, places)
            solved = fit_terms(vocabulary, X, log_price, places)
    model = to_model(vocabulary, solved)
    oof = np.empty(len(X))
    fold = np.random.default_rng(0).permutation(len(X)) % max(2, min(folds, len(X)))
    for f in range(int(fold.max()) + 1):
        train = fold != f
        part = fit_terms(
            vocabulary, X[train], log_price[train], places.take(train), solved.strengths
        )
        oof[~train] = to_model(vocabulary, part).predict(X[~train], places.take(~train))
    return LocatedFit(model, kept, oof, _out_of_time(vocabulary, X, log_price, places, solved))


def _out_of_time(
    vocabulary: Vocabulary, X: FloatArray, log_price: FloatArray, places: Places, solved: Solved
) -> tuple[FloatArray, FloatArray] | None:
    """The newest tenth of dated sales, estimated by a fit of the sales before them (valued
    as of their own month, the index's last level beyond it)."""
    dated = np.flatnonzero(places.month >= 0)
    held = round(len(dated) * HELD_OUT)
    if held < MIN_HELD_OUT:
        return None
    order = dated[np.argsort(places.month[dated], kind="stable")]
    newest = order[-held:]
    train = np.ones(len(X), dtype=bool)
    train[newest] = False
    earlier = places.take(train)
    part = fit_terms(vocabulary, X[train], log_price[train], earlier, solved.strengths)
    model = to_model(vocabulary, part)
    # The held-out months have no data in the part's fit: their effects are the random walk's
    # continuation, the last month seen.
    last = int(places.month[train].max()) if (places.month[train] >= 0).any() else -1
    held_places = places.take(newest)
    month = np.minimum(held_places.month, last)
    month = np.where(held_places.month >= 0, month, -1)
    estimates = model.predict(
        X[newest], Places(held_places.area, held_places.latitude, held_places.longitude, month)
    )
    return estimates, np.exp(log_price[newest])
