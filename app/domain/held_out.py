"""Sales estimated by fits that did not see them: each fold by the others, the newest tenth by
the sales before it, each with its possible comps and their residuals, as a served model's."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from app.domain.arrays import FloatArray
from app.domain.comps import Similarity
from app.domain.comps_choice import Geometry, Search, Split, estimate

if TYPE_CHECKING:
    from app.domain.located import System

MAX_JUDGED = 10_000  # the most sales of a fold estimated out of it (or out of time), with comps
MAX_POOL = 100_000  # the most possible comps a similarity is chosen among
HELD_OUT = 0.10  # the newest share of sales an out-of-time figure is measured on
MIN_HELD_OUT = 20


def estimate_split(
    geometry: Geometry | None,
    split: Split,
    similarity: Similarity | None,
    search: Search | None = None,
) -> tuple[FloatArray, FloatArray]:
    """A split's log estimates (with comps where sales have coordinates, found in `search`
    where given) and their comps' total weights."""
    if geometry is None:
        return split.base, np.zeros(len(split.base))
    return estimate(geometry, split, similarity_of(similarity), search)


def similarity_of(similarity: Similarity | None) -> Similarity:
    assert similarity is not None
    return similarity


def fold_splits(
    system: System,
    fold: npt.NDArray[np.intp],
    strengths: dict[str, float],
    only: int | None = None,
) -> list[Split]:
    """Each fold (or `only` that one) estimated by a fit of the other folds, whose sales are
    its possible comps, each with its residual under that fit: as a served model's comps are
    its sales with their residuals under it."""
    none = np.zeros(len(fold), dtype=bool)
    splits = []
    for f in range(int(fold.max()) + 1) if only is None else (only,):
        rows = fold == f
        if rows.any():
            splits.append(split_of(system, rows, none, strengths))
    return splits


def sample(split: Split, most: int, rng: np.random.Generator) -> Split:
    """The split with at most `most` of its subjects, drawn at random."""
    if len(split.subjects) <= most:
        return split
    chosen = np.sort(rng.choice(len(split.subjects), size=most, replace=False))
    unplaced = None if split.unplaced is None else split.unplaced[chosen]
    return Split(split.subjects[chosen], split.base[chosen], split.pool, split.residual, unplaced)


def pool_sample(split: Split, most: int, rng: np.random.Generator) -> Split:
    """The split with at most `most` of its possible comps, drawn at random (the choice of a
    similarity in a very large market)."""
    if len(split.pool) <= most:
        return split
    chosen = np.sort(rng.choice(len(split.pool), size=most, replace=False))
    return Split(
        split.subjects, split.base, split.pool[chosen], split.residual[chosen], split.unplaced
    )


def split_of(
    system: System,
    rows: npt.NDArray[np.bool_],
    out: npt.NDArray[np.bool_],
    strengths: dict[str, float],
) -> Split:
    part = system.solve_without(rows | out, strengths)
    pool = np.flatnonzero(~rows & ~out)
    # Every row's fit, then the pool's: no copy of the pool's rows of the design (row by row
    # the same sums).
    residual = system.y[pool] - np.asarray(system.matrix @ part, dtype=np.float64)[pool]
    subjects = system.matrix[rows]
    unplaced = None
    cells = [(start, end) for term, start, end in system.blocks.groups if term.startswith("cell")]
    if cells:
        without = part.copy()
        for start, end in cells:
            without[start:end] = 0.0
        unplaced = np.asarray(subjects @ without, dtype=np.float64)
    return Split(
        np.flatnonzero(rows),
        np.asarray(subjects @ part, dtype=np.float64),
        pool,
        np.asarray(residual, dtype=np.float64),
        unplaced,
    )


def out_of_time(
    system: System,
    month: npt.NDArray[np.int64],
    strengths: dict[str, float],
    geometry: Geometry | None,
    similarity: Similarity | None,
    search: Search | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.intp]] | None:
    """The newest tenth of dated sales, estimated by a fit of the sales before them and their
    comps among those sales (valued at their own month, which the fit saw no sale of: the
    index's last level seen): estimates, prices, comps' total weights, and which sales."""
    dated = np.flatnonzero(month >= 0)
    held = round(len(dated) * HELD_OUT)
    if held < MIN_HELD_OUT:
        return None
    rows = np.zeros(len(month), dtype=bool)
    rows[dated[np.argsort(month[dated], kind="stable")][-held:]] = True
    split = split_of(system, rows, np.zeros(len(rows), dtype=bool), strengths)
    split = sample(split, MAX_JUDGED, np.random.default_rng(1))
    found, weight = estimate_split(geometry, split, similarity, search)
    return np.exp(found), np.exp(system.y[split.subjects]), weight, split.subjects
