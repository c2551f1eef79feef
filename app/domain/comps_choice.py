"""Choosing how comps are found and weighed, by how well they estimate sales they did not see."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.domain.arrays import FloatArray
from app.domain.comps import (
    MAX_COMPS,
    Similarity,
    Tree,
    cores,
    nearest,
    points,
    shift,
    shift_and_weight,
    weights,
)

SIZE_KM = (1.0, 2.0, 4.0)
YEAR_KM = (0.0, 1.0, 3.0)
K = (5, 10, 20)
SHRINK = (0.25, 1.0, 4.0)
MAX_SUBJECTS = 5_000  # sales a choice is judged on
DEFAULT = Similarity(size_km=2.0, year_km=1.0, k=10, shrink=1.0)


@dataclass(frozen=True)
class Geometry:
    """Each sale's place in the comps' coordinates, before weighting: km east and north,
    log sqft, month; `located`, whether it has coordinates (only those are comps)."""

    x: FloatArray
    y: FloatArray
    log_sqft: FloatArray
    month: FloatArray
    located: npt.NDArray[np.bool_]

    def points(self, rows: npt.NDArray[np.intp], similarity: Similarity) -> FloatArray:
        return points(self.x[rows], self.y[rows], self.log_sqft[rows], self.month[rows], similarity)


@dataclass(frozen=True)
class Split:
    """Sales estimated from a fit that did not see them (`subjects`, with the fit's log
    estimates) and the sales that fit did see (`pool`, with their residuals under it): the
    pool's sales are the subjects' possible comps."""

    subjects: npt.NDArray[np.intp]
    base: FloatArray  # the subjects' log estimates by the terms
    pool: npt.NDArray[np.intp]
    residual: FloatArray  # the pool's log price less its log estimate
    # The subjects' log estimates as homes sent without coordinates get them (no cells' part,
    # no comps); None where the market has no cells.
    unplaced: FloatArray | None = None


@dataclass(frozen=True)
class Search:
    """A k-d tree of every located sale at one similarity: each split's comps are found in it
    among its pool's sales alone (the others masked), without a tree of each pool."""

    tree: Tree
    rows: npt.NDArray[np.intp]  # the located sales, by their row of the geometry
    similarity: Similarity


def search_of(geometry: Geometry, similarity: Similarity) -> Search:
    rows = np.flatnonzero(geometry.located)
    return Search(Tree(geometry.points(rows, similarity), in_place=True), rows, similarity)


def neighbours(
    geometry: Geometry, split: Split, similarity: Similarity, k: int, search: Search | None = None
) -> tuple[FloatArray, npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The k nearest pool sales of each located subject: distances, positions in the pool,
    and which subjects (positions in `split.subjects`) were located; in `search` where it is
    of this similarity, else in a tree of the pool's sales."""
    pool = split.pool[geometry.located[split.pool]]
    at = np.flatnonzero(geometry.located[split.subjects])
    if len(pool) == 0 or len(at) == 0:
        return np.zeros((0, k)), np.zeros((0, k), dtype=np.intp), np.zeros(0, dtype=np.intp)
    subjects = geometry.points(split.subjects[at], similarity)
    if search is not None and search.similarity == similarity:
        allowed = np.zeros(len(geometry.located), dtype=bool)
        allowed[pool] = True
        distance, index = search.tree.nearest(subjects, k, allowed[search.rows])
        found = np.append(search.rows, -1)[index]  # rows of the geometry; -1: none found
    else:
        distance, index = nearest(geometry.points(pool, similarity), subjects, k, spare=True)
        found = np.append(pool, -1)[index]
    # Positions in the pool's residuals; a missing neighbour (inf) points at the first, weight 0.
    positions = np.maximum(np.searchsorted(split.pool, found), 0)
    return distance, positions, at


def estimate(
    geometry: Geometry, split: Split, similarity: Similarity, search: Search | None = None
) -> tuple[FloatArray, FloatArray]:
    """The subjects' log estimates with comps, and their comps' total weight (0: none)."""
    distance, positions, at = neighbours(geometry, split, similarity, similarity.k, search)
    out = split.base.copy()
    total = np.zeros(len(out))
    if len(at):
        moved, total[at] = shift_and_weight(
            split.residual[positions], weights(distance), similarity.shrink
        )
        out[at] += moved
    return out, total


def choose_similarity(geometry: Geometry, split: Split, log_price: FloatArray) -> Similarity:
    """The grid's similarity whose comps estimate the split's subjects best (median absolute
    log error), on at most MAX_SUBJECTS of them."""
    if not geometry.located[split.pool].any() or not geometry.located[split.subjects].any():
        return DEFAULT
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.permutation(len(split.subjects))[:MAX_SUBJECTS])
    split = Split(split.subjects[chosen], split.base[chosen], split.pool, split.residual)
    truth = log_price[split.subjects]

    def judged(size_km: float, year_km: float) -> list[tuple[float, Similarity]]:
        """The error of each k and shrinkage at these scales, in the grid's order."""
        widest = Similarity(size_km, year_km, min(max(K), MAX_COMPS), 1.0)
        distance, positions, at = neighbours(geometry, split, widest, widest.k)
        residual, weight = split.residual[positions], weights(distance)
        errors = []
        for k, shrink in itertools.product(K, SHRINK):
            found = split.base.copy()
            found[at] += shift(residual[:, :k], weight[:, :k], shrink)
            error = float(np.median(np.abs(found - truth)))
            errors.append((error, Similarity(size_km, year_km, k, shrink)))
        return errors

    # The scales are judged on the process's cores at once (the search and numpy's sorts let go
    # of the interpreter); the first best in the grid's order is chosen, as one by one.
    with ThreadPoolExecutor(min(cores(), 2)) as judges:
        grid = judges.map(lambda scales: judged(*scales), itertools.product(SIZE_KM, YEAR_KM))
        best, best_error = DEFAULT, np.inf
        for error, similarity in itertools.chain.from_iterable(grid):
            if error < best_error:
                best, best_error = similarity, error
    return best
