"""How much wider a range is where comps are few or far: a factor by the comps' total weight.

An estimate moved by many near, recent comps errs less than one moved by a few far ones, or by
none. Out of fold, King County's 90 % range held 81 % of the sales whose comps weighed least
(the lowest tenth of W, the total weight) and 95 % of those whose comps weighed most. So the
range's scale is multiplied by a factor of W: the sales estimated out of fold are grouped by W
(its tenth, third, two-thirds and nine-tenths quantiles the edges), and each group's factor is
its median normalised error over all sales' median. The range is then calibrated on the errors
divided by their factors, so each group's range holds its level about as often as the whole
does. The factors never rise with W (pooled where the medians say otherwise: noise), so a home
whose W is below every edge (no comps: no coordinates, or far from every sale) takes the first
group's, the widest.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.domain.arrays import FloatArray

QUANTILES = (0.1, 1 / 3, 2 / 3, 0.9)
MIN_GROUP = 50  # sales a group needs for a factor of its own (else 1)
# The comps' total weight of a home sent without coordinates in a market with them: it has no
# comps (W 0 to the groups above, which read it as the first group's), and a range of its own
# where the model has one (`LocatedModel.range_unplaced`).
UNPLACED = -1.0


def widened(
    scale: FloatArray, by_comps: RangeByComps | None, unplaced: float | None, weight: FloatArray
) -> FloatArray:
    """The range's scale of each estimate, times its comps' group factor or, for a home sent
    without coordinates (weight UNPLACED) where the model has one, the factor of such homes."""
    out = scale if by_comps is None else scale * by_comps.factor(np.maximum(weight, 0.0))
    if unplaced is not None:
        out = np.where(weight == UNPLACED, scale * unplaced, out)
    return out


def widened_one(
    scale: float, by_comps: RangeByComps | None, unplaced: float | None, weight: float, placed: bool
) -> float:
    """`widened` of one home (`placed`: sent with coordinates), the same operations."""
    if unplaced is not None and not placed:
        return scale * unplaced
    return scale if by_comps is None else scale * by_comps.factor_one(weight)


def unplaced_factor(
    price: FloatArray, estimate: FloatArray, scale: FloatArray, normalised: FloatArray
) -> float | None:
    """The factor of the range's scale for homes sent without coordinates: the median error
    over scale of such estimates of sales (`estimate`, with `scale`) over the median of the
    errors the range was calibrated on (`normalised`); None where either is not positive."""
    theirs = float(np.median(np.abs(price - estimate) / scale))
    overall = float(np.median(normalised))
    if not (theirs > 0 and overall > 0):
        return None
    return theirs / overall


@dataclass(frozen=True)
class RangeByComps:
    """Edges of the comps' total weight W, and the factor of each group between them."""

    edges: tuple[float, ...]
    factors: tuple[float, ...]  # one more than the edges

    def group(self, weight: FloatArray) -> npt.NDArray[np.intp]:
        """Each home's group by its comps' total weight (an edge belongs to the group above)."""
        return group_of(self.edges, weight)

    def factor(self, weight: FloatArray) -> FloatArray:
        found: FloatArray = np.asarray(self.factors)[self.group(weight)]
        return found

    def factor_one(self, weight: float) -> float:
        """`factor` of one home, the same lookup."""
        return self.factors[bisect.bisect_right(self.edges, weight)]

    def describe(self) -> dict[str, object]:
        return {
            "weight_edges": list(self.edges),
            "factors": list(self.factors),
            "method": "the range's scale times the factor of the home's group by its comps' "
            "total weight W (edges: W's tenth, third, two-thirds and nine-tenths quantiles out "
            "of fold); each group's factor its median normalised error over all sales'",
        }


def range_by_comps(weight: FloatArray, normalised: FloatArray) -> RangeByComps | None:
    """The factors from sales estimated out of fold: their comps' total weight and their
    absolute errors over the range's scale. None where too few sales have comps."""
    if int((weight > 0).sum()) < MIN_GROUP * (len(QUANTILES) + 1):
        return None
    edges = tuple(float(e) for e in np.quantile(weight, QUANTILES))
    overall = float(np.median(normalised))
    if not overall > 0:
        return None
    group = group_of(edges, weight)
    factors, sizes = [], []
    for g in range(len(edges) + 1):
        inside = normalised[group == g]
        factors.append(float(np.median(inside)) / overall if len(inside) >= MIN_GROUP else 1.0)
        sizes.append(len(inside))
    return RangeByComps(edges, never_rising(factors, sizes))


def group_of(edges: tuple[float, ...], weight: FloatArray) -> npt.NDArray[np.intp]:
    found: npt.NDArray[np.intp] = np.searchsorted(np.asarray(edges), weight, side="right")
    return found


def never_rising(values: list[float], sizes: list[int]) -> tuple[float, ...]:
    """The closest sequence (least squares, weighted by `sizes`) that never rises: more comps
    weight never makes a range wider (pooled adjacent violators)."""
    blocks: list[list[float]] = []  # [value, weight, count]
    for value, size in zip(values, sizes, strict=True):
        blocks.append([value, float(max(size, 1)), 1.0])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            right, left = blocks.pop(), blocks[-1]
            total = left[1] + right[1]
            left[0] = (left[0] * left[1] + right[0] * right[1]) / total
            left[1], left[2] = total, left[2] + right[2]
    return tuple(value for value, _, count in blocks for _ in range(int(count)))
