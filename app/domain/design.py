"""The design of a located fit, held as codes: its products made by counting, not as a matrix.

Row i of the design X is an intercept of 1 and the home's size columns (dense), then a 1 in one
column of each block (area, each cell scale, the months) given by the row's code in that block,
none where the code is -1. Every product a fit needs, Xβ, XᵀX and Xᵀy, is a sum over rows by
code (np.bincount), so the sparse matrix itself is never built: for a million sales it took a
third of the fit's time and the most memory of any step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from app.domain.arrays import FloatArray
from app.domain.terms import Blocks, solve_normal

Codes = npt.NDArray[np.intp]
# Two blocks' pairs of codes are counted in a table of every pair up to this many pairs (and
# not many more than the rows), else by sorting the rows' pairs.
TABLE_MOST = 1 << 22


@dataclass(frozen=True)
class Design:
    """The design: `dense` (n, k) columns, then `coded` blocks, each (first column, the rows'
    codes, columns); `width` columns in all."""

    dense: FloatArray
    coded: tuple[tuple[int, Codes, int], ...]
    width: int

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.dense), self.width

    def __len__(self) -> int:
        return len(self.dense)

    def __getitem__(self, rows: Any) -> Design:
        """These rows' design (a mask or positions)."""
        at = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else rows
        coded = tuple((start, codes.take(at), count) for start, codes, count in self.coded)
        dense = np.empty((len(at), self.dense.shape[1]), order="F")
        for j in range(self.dense.shape[1]):  # a column at a time: each is contiguous
            self.dense[:, j].take(at, out=dense[:, j])
        return Design(dense, coded, self.width)

    def __matmul__(self, beta: FloatArray) -> FloatArray:
        """Xβ."""
        out: FloatArray = self.dense @ beta[: self.dense.shape[1]]
        for start, codes, count in self.coded:
            effects = np.append(beta[start : start + count], 0.0)  # code -1: the 0 appended
            out += effects[codes]
        return out

    def normal(self, y: FloatArray) -> tuple[sp.csr_matrix, FloatArray]:
        """XᵀX (sparse) and Xᵀy."""
        k = self.dense.shape[1]
        rhs = np.zeros(self.width)
        rhs[:k] = self.dense.T @ y
        rows, columns = np.indices((k, k))
        entries = [(rows.ravel(), columns.ravel(), (self.dense.T @ self.dense).ravel())]
        for b, (start, codes, count) in enumerate(self.coded):
            bins = np.where(codes >= 0, codes, count)  # -1: a last bin, left out

            def summed(weights: FloatArray | None, bins: Codes = bins, count: int = count) -> Any:
                return np.bincount(bins, weights=weights, minlength=count + 1)[:count]

            rhs[start : start + count] = summed(y)
            sizes = summed(None)
            at = np.flatnonzero(sizes)
            entries.append((start + at, start + at, sizes[at].astype(np.float64)))
            for j in range(k):
                sums = summed(self.dense[:, j])[at]
                entries += [
                    (np.full(len(at), j), start + at, sums),
                    (start + at, np.full(len(at), j), sums),
                ]
            for other, others, other_count in self.coded[b + 1 :]:
                first, second, number = _pairs(codes, count, others, other_count)
                entries += [
                    (start + first, other + second, number),
                    (other + second, start + first, number),
                ]
        row = np.concatenate([r for r, _, _ in entries])
        column = np.concatenate([c for _, c, _ in entries])
        value = np.concatenate([v for _, _, v in entries])
        gram = sp.coo_matrix((value, (row, column)), shape=(self.width, self.width)).tocsr()
        return gram, rhs

    def toarray(self) -> FloatArray:
        """The whole matrix, dense (for a check against a reference solve)."""
        found = np.zeros(self.shape)
        k = self.dense.shape[1]
        found[:, :k] = self.dense
        for start, codes, _ in self.coded:
            has = np.flatnonzero(codes >= 0)
            found[has, start + codes[has]] = 1.0
        return found


def _pairs(
    codes: Codes, count: int, others: Codes, other_count: int
) -> tuple[Codes, Codes, FloatArray]:
    """The pairs of codes of two blocks that rows hold, and how many rows hold each."""
    both = (codes >= 0) & (others >= 0)
    pairs = count * other_count
    if pairs <= min(TABLE_MOST, 4 * len(codes) + 1024):
        keys = np.where(both, codes * other_count + others, pairs)
        table = np.bincount(keys, minlength=pairs + 1)[:pairs]
        found = np.flatnonzero(table)
        number = table[found]
    else:
        found, number = np.unique(codes[both] * other_count + others[both], return_counts=True)
    first, second = np.divmod(found, other_count)
    return first, second, number.astype(np.float64)


def design(
    size: FloatArray,
    group_codes: list[tuple[str, Codes, int]],
    month: Codes,
    levels: int,
) -> tuple[Design, Blocks]:
    """The design: `size` (n, k) dense columns after an intercept, then a block for each
    (term, codes, count) in `group_codes` (code -1: no column), then the months, `month` as
    0 .. levels - 1 with levels - 1 the newest (pinned, no column), -1 for none."""
    n, k = len(size), size.shape[1] + 1
    dense = np.empty((n, k), order="F")
    dense[:, 0] = 1.0
    dense[:, 1:] = size
    start = k
    coded, groups = [], []
    for term, found, count in group_codes:
        coded.append((start, found, count))
        groups.append((term, start, start + count))
        start += count
    months = max(levels - 1, 0)  # free parameters
    coded.append((start, np.where((month >= 0) & (month < months), month, -1), months))
    blocks = Blocks(k, tuple(groups), (start, start + months))
    return Design(dense, tuple(coded), blocks.width), blocks


def solve(matrix: Design, penalties: sp.csr_matrix, y: FloatArray) -> FloatArray:
    """The exact minimiser of |y - Xβ|² + βᵀPβ: (XᵀX + P) β = Xᵀy, by a sparse direct solve."""
    gram, rhs = matrix.normal(y)
    return solve_normal(gram + penalties, rhs)
