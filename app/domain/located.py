"""Fitting a located model: choose the penalties from the data, flag outliers, solve exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from app.domain import comps
from app.domain.arrays import FloatArray
from app.domain.comps import NO_DAY, Similarity
from app.domain.comps_choice import Geometry, choose_similarity, search_of
from app.domain.design import Design, design
from app.domain.held_out import (
    MAX_JUDGED,
    MAX_POOL,
    estimate_split,
    fold_splits,
    out_of_time,
    pool_sample,
    sample,
)
from app.domain.located_model import LocatedModel
from app.domain.ratios import equity_spread, spread_about
from app.domain.terms import (
    CELL_SIZES_KM,
    NO_KEY,
    Blocks,
    IntArray,
    Places,
    Projection,
    codes,
    moment_strength,
    pack_keys,
    penalty,
    solve_normal,
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
        # (distinct values by hashing, then sorted: a million sales' in a fifth of the time)
        areas = tuple(sorted(a for a in pd.unique(places.area).tolist() if a is not None))
        located = np.isfinite(places.latitude) & np.isfinite(places.longitude)
        projection = None
        cells: tuple[IntArray, ...] = ()
        if located.any():
            projection = Projection(
                float(np.median(places.latitude[located])),
                float(np.median(places.longitude[located])),
            )
            cells = tuple(
                np.sort(pd.unique(keys[keys != NO_KEY]))
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
        found = pd.Index(self.areas, dtype=object).get_indexer(pd.Index(area, dtype=object))
        return np.asarray(found, dtype=np.intp)

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
class System:
    """The normal equations of a located fit, built once: the design, XᵀX and Xᵀy of its rows.

    Every solve of the fit takes them from here: the choice of penalties solves with some
    terms' columns only, and a fit without some rows (outliers, a fold, the newest sales)
    subtracts those rows' part of XᵀX and Xᵀy. The design is built and multiplied out once."""

    matrix: Design
    blocks: Blocks
    y: FloatArray
    gram: sp.csr_matrix
    rhs: FloatArray
    months: npt.NDArray[np.intp]
    groups: tuple[tuple[str, npt.NDArray[np.intp], int], ...]

    @classmethod
    def of(cls, vocabulary: Vocabulary, X: FloatArray, y: FloatArray, places: Places) -> System:
        groups = vocabulary.groups(places)
        months = vocabulary.month_codes(places.month)
        matrix, blocks = design(vocabulary.size(X), groups, months, vocabulary.months)
        return cls(matrix, blocks, y, *matrix.normal(y), months, tuple(groups))

    def without(self, rows: npt.NDArray[np.bool_]) -> System:
        """The system of the other rows: their design, and XᵀX and Xᵀy less these rows' part."""
        gram, rhs = self.matrix[rows].normal(self.y[rows])
        keep = ~rows
        matrix = self.matrix[keep]
        # The groups' codes are the design's first blocks': the same arrays, taken once.
        groups = tuple(
            (t, codes, n)
            for (t, _, n), (_, codes, _) in zip(self.groups, matrix.coded, strict=False)
        )
        return System(
            matrix,
            self.blocks,
            self.y[keep],
            (self.gram - gram).tocsr(),
            self.rhs - rhs,
            self.months[keep],
            groups,
        )

    def solve_without(self, rows: npt.NDArray[np.bool_], strengths: dict[str, float]) -> FloatArray:
        """`without(rows).solve(strengths)`, with no copy of the other rows' design."""
        gram, rhs = self.matrix[rows].normal(self.y[rows])
        penalties = penalty(self.blocks, strengths)
        return solve_normal(self.gram - gram + penalties, self.rhs - rhs)

    def solve(self, strengths: dict[str, float], terms: set[str] | None = None) -> FloatArray:
        """The coefficients: zero for the groups not in `terms` (None: every term)."""
        columns = np.ones(self.blocks.width, dtype=bool)
        for term, start, end in self.blocks.groups:
            if terms is not None and term not in terms:
                columns[start:end] = False
        penalties = penalty(self.blocks, {**dict.fromkeys(self.terms, 1.0), **strengths})
        beta = np.zeros(self.blocks.width)
        if columns.all():
            beta[:] = solve_normal(self.gram + penalties, self.rhs)
        else:
            at = np.flatnonzero(columns)
            system = (self.gram + penalties)[at][:, at]
            beta[at] = solve_normal(system, self.rhs[at])
        return beta

    @property
    def terms(self) -> list[str]:
        return [term for term, _, _ in self.blocks.groups]

    def fitted(self, beta: FloatArray) -> FloatArray:
        return np.asarray(self.matrix @ beta, dtype=np.float64)


def choose_strengths(system: System) -> dict[str, float]:
    """Each group's penalty from the residuals of the fit of the terms before it (the months
    held by a weak penalty), λ = σ²/τ² by the method of moments (`terms.moment_strength`);
    then the months' penalty from the steps of the last fit's index (`terms.time_strength`)."""
    strengths: dict[str, float] = {"time": WEAK}
    used: set[str] = set()
    beta = system.solve(strengths, used)
    residual = system.y - system.fitted(beta)
    for term, found, count in system.groups:
        strengths[term] = moment_strength(residual, found, count)
        used.add(term)
        beta = system.solve(strengths, used)
        residual = system.y - system.fitted(beta)
    start, end = system.blocks.months
    if end > start:
        effects = np.append(beta[start:end], 0.0)
        months = system.months
        sizes = np.bincount(months[months >= 0], minlength=end - start + 1).astype(np.float64)
        strengths["time"] = time_strength(effects, sizes, float(np.var(residual)))
    return strengths


def outliers(log_price: FloatArray, fitted: FloatArray) -> npt.NDArray[np.bool_]:
    """Sales whose log ratio (estimate over price) lies beyond 3 IQR outside the quartiles."""
    ratio = fitted - log_price
    q1, q3 = np.quantile(ratio, [0.25, 0.75])
    spread = OUTLIER_IQRS * (q3 - q1)
    flagged: npt.NDArray[np.bool_] = (ratio < q1 - spread) | (ratio > q3 + spread)
    return flagged


MIN_SPREAD_SALES = 200  # the fewest sales whose estimates out of fold can set the spread


def to_model(
    vocabulary: Vocabulary,
    beta: FloatArray,
    strengths: dict[str, float],
    sales: bytes = b"",
    similarity: Similarity | None = None,
    spread: tuple[float, float] | None = None,
    spread_unplaced: tuple[float, float] | None = None,
) -> LocatedModel:
    """The model of a solve: each term's coefficients beside the places they belong to."""
    at = 5
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
        cells=tuple(pack_keys(c) for c in vocabulary.cells),
        keys_packed=True,
        cell_effects=tuple(cell_effects),
        first_month=vocabulary.first_month,
        month_effects=months if vocabulary.months else (),
        strengths=dict(strengths),
        sales=sales,
        similarity=None
        if similarity is None
        else (similarity.size_km, similarity.year_km, similarity.k, similarity.shrink),
        spread=spread,
        spread_unplaced=spread_unplaced,
    )


@dataclass(frozen=True)
class LocatedFit:
    """A located model, what was left out of it, and its estimates of sales it did not see."""

    model: LocatedModel
    kept: npt.NDArray[np.bool_]  # the sales the model was fitted on (outliers are not)
    judged: npt.NDArray[np.intp]  # the kept sales estimated out of fold (positions among them)
    out_of_fold: FloatArray  # their estimated prices
    weight: FloatArray  # their comps' total weight (0: none)
    # Estimates, prices and comps' total weights of the newest tenth of sales
    out_of_time: tuple[FloatArray, FloatArray, FloatArray] | None
    # The judged sales' estimated prices as homes sent without coordinates (a market with
    # cells: no cells' part, no comps, their own spread); None in a market without cells
    unplaced_out_of_fold: FloatArray | None = None


def fit_located(
    X: FloatArray,
    price: FloatArray,
    places: Places,
    *,
    folds: int,
    trim: bool = True,
    held_out: bool = True,
    days: npt.NDArray[np.int64] | None = None,
) -> LocatedFit:
    """Choose the penalties and fit; leave out outliers (`trim`), choose and fit again; choose
    how comps are found and weighed (where sales have coordinates); estimate each kept sale
    out of fold, comps included (from the other folds' sales), and from those estimates the
    spread that makes them neither regressive nor progressive (`ratios.equity_spread`); and
    (`held_out`) the newest tenth of dated sales from a fit of the others and their comps.
    The terms' places (areas, cells, months) are those of every sale. `days`: each sale's
    date, days since 1970-01-01 (`comps.NO_DAY` for none), which its listing as a comp shows."""
    vocabulary = Vocabulary.of(X, places)
    system = System.of(vocabulary, X, np.log(price), places)
    strengths = choose_strengths(system)
    beta = system.solve(strengths)
    kept = np.ones(len(price), dtype=bool)
    if trim:
        kept = ~outliers(system.y, system.fitted(beta))
        if not kept.all():
            system = system.without(~kept)
            strengths = choose_strengths(system)
            beta = system.solve(strengths)
    n = len(system.y)
    geometry = _geometry(vocabulary, X[kept], places.take(kept))
    rng = np.random.default_rng(0)
    fold = rng.permutation(n) % max(2, min(folds, n))
    # A large market is judged on a sample of its first fold: its comps are costly to find.
    large = int((fold == 0).sum()) > MAX_JUDGED
    splits = fold_splits(system, fold, strengths, only=0 if large else None)
    if large:
        splits = [sample(splits[0], MAX_JUDGED, rng)]
    similarity = None
    if geometry is not None:
        similarity = choose_similarity(geometry, pool_sample(splits[0], MAX_POOL, rng), system.y)
    # One tree of the sales serves every split's search and the newest tenth's.
    search = None if geometry is None or similarity is None else search_of(geometry, similarity)
    judged = np.concatenate([split.subjects for split in splits])
    found = [estimate_split(geometry, split, similarity, search) for split in splits]
    newest_tenth = None
    if held_out:
        newest_tenth = out_of_time(
            system, places.month[kept], strengths, geometry, similarity, search
        )
    del search  # (let go before the comps' table is made)
    log_oof = np.concatenate([estimates for estimates, _ in found])
    weight = np.concatenate([total for _, total in found])
    spread = spread_unplaced = None
    unplaced = [split.unplaced for split in splits if split.unplaced is not None]
    log_unplaced = np.concatenate(unplaced) if unplaced and len(unplaced) == len(splits) else None
    if len(judged) >= MIN_SPREAD_SALES:
        spread = equity_spread(log_oof, np.exp(system.y[judged]))
        if geometry is not None and log_unplaced is not None:
            spread_unplaced = equity_spread(log_unplaced, np.exp(system.y[judged]))
            log_unplaced = spread_about(log_unplaced, spread_unplaced)
        log_oof = _spread(log_oof, spread, spread_unplaced, geometry, judged)
    sales = b""
    if geometry is not None:
        # The kept sales' area codes are the system's (its rows are the kept sales).
        areas = dict((t, c) for t, c, _ in system.groups).get("area")
        area = None if areas is None else areas[geometry.located]
        sales = _sales(
            vocabulary, X, price, places, days, np.flatnonzero(kept)[geometry.located], area
        )
    model = to_model(vocabulary, beta, strengths, sales, similarity, spread, spread_unplaced)
    newest = None
    if newest_tenth is not None:
        estimates, prices, weights, subjects = newest_tenth
        if spread is not None:
            logs = _spread(np.log(estimates), spread, spread_unplaced, geometry, subjects)
            estimates = np.exp(logs)
        newest = (estimates, prices, weights)
    unplaced_oof = None if log_unplaced is None or geometry is None else np.exp(log_unplaced)
    return LocatedFit(model, kept, judged, np.exp(log_oof), weight, newest, unplaced_oof)


def _spread(
    logs: FloatArray,
    spread: tuple[float, float],
    unplaced: tuple[float, float] | None,
    geometry: Geometry | None,
    subjects: npt.NDArray[np.intp],
) -> FloatArray:
    """Log estimates of `subjects` spread as served: by `unplaced` for sales without
    coordinates where the model has it, by `spread` for the others."""
    out = spread_about(logs, spread)
    if unplaced is not None and geometry is not None:
        without = ~geometry.located[subjects]
        out[without] = spread_about(logs[without], unplaced)
    return np.asarray(out, dtype=np.float64)


def _sales(
    vocabulary: Vocabulary,
    X: FloatArray,
    price: FloatArray,
    places: Places,
    days: npt.NDArray[np.int64] | None,
    at: npt.NDArray[np.intp],
    area: npt.NDArray[np.intp] | None,
) -> bytes:
    """The comps' table of the sales at these positions (`comps.table`), as bytes, with their
    area codes (None: the market has no areas); the copies of their columns it is made from
    are let go on return, before the fit goes on."""
    centre = geometry_centre(vocabulary)
    return comps.table(
        X[at],
        price[at],
        places.latitude[at] - centre[0],
        places.longitude[at] - centre[1],
        np.full(len(at), NO_DAY, dtype=np.int64) if days is None else days[at],
        np.full(len(at), -1, dtype=np.intp) if area is None else area,
    ).tobytes()


def geometry_centre(vocabulary: Vocabulary) -> tuple[float, float]:
    assert vocabulary.projection is not None
    return vocabulary.projection.latitude, vocabulary.projection.longitude


def _geometry(vocabulary: Vocabulary, X: FloatArray, places: Places) -> Geometry | None:
    """The sales' places in the comps' coordinates; None when no sale has coordinates."""
    projection = vocabulary.projection
    if projection is None:
        return None
    x, y = projection.xy(places.latitude, places.longitude)
    located = np.isfinite(x) & np.isfinite(y)
    month = np.where(places.month >= 0, places.month, vocabulary.last_month)
    return Geometry(
        np.where(located, x, 0.0),
        np.where(located, y, 0.0),
        np.log(X[:, 2]),
        month.astype(np.float64),
        located,
    )
