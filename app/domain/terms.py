"""The named terms of a located model: where and when a home sold, as columns of a penalised solve.

A located model is least squares on log price with these terms: an intercept (the market's
typical home at its newest month), size (beds, baths and log square feet, each centred on the
market's median), the home's area (a postal code, neighbourhood or tract: any text), cells of
its coordinates at two scales, and the month it sold in. Area and cell effects are ridge
penalised toward zero, the market's level; the month effects are penalised on their
differences (a random walk), the newest month pinned at zero. The system is solved exactly,
in closed form, from sparse normal equations.
"""

from __future__ import annotations

import math
import zlib
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from app.domain.arrays import FloatArray

IntArray = npt.NDArray[np.int64]

CELL_SIZES_KM = (2.0, 0.5)  # the coordinates' cells, coarse then fine
NO_KEY = np.int64(-1)  # a home without coordinates, or without a sale month
KM_PER_DEGREE_LATITUDE = 110.574
KM_PER_DEGREE_LONGITUDE = 111.320  # at the equator; times cos(latitude)
OFFSET = 1 << 20  # cell indices are offset to be non-negative, then packed in one int64


@dataclass(frozen=True)
class Places:
    """Where and when, for n homes: any entry may be missing (None, NaN, -1)."""

    area: npt.NDArray[np.object_]  # text, or None
    latitude: FloatArray
    longitude: FloatArray
    month: IntArray  # year * 12 + month - 1, or -1

    @classmethod
    def empty(cls, n: int) -> Places:
        return cls(
            np.full(n, None, dtype=object),
            np.full(n, np.nan),
            np.full(n, np.nan),
            np.full(n, NO_KEY, dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.month)

    def take(self, rows: npt.NDArray[np.intp] | npt.NDArray[np.bool_] | slice) -> Places:
        return Places(self.area[rows], self.latitude[rows], self.longitude[rows], self.month[rows])


def month_of(year: int, month: int) -> int:
    return year * 12 + month - 1


def month_name(ordinal: int) -> str:
    return f"{ordinal // 12:04d}-{ordinal % 12 + 1:02d}"


@dataclass(frozen=True, slots=True)
class Projection:
    """Kilometres east and north of a market's centre (equirectangular: a town is small)."""

    latitude: float
    longitude: float

    @property
    def km_east(self) -> float:
        return KM_PER_DEGREE_LONGITUDE * math.cos(math.radians(self.latitude))

    def xy(self, latitude: FloatArray, longitude: FloatArray) -> tuple[FloatArray, FloatArray]:
        x = (longitude - self.longitude) * self.km_east
        y = (latitude - self.latitude) * KM_PER_DEGREE_LATITUDE
        return x, y

    def cells(self, latitude: FloatArray, longitude: FloatArray, size: float) -> IntArray:
        """Each home's cell of `size` km as one int64 key; NO_KEY without coordinates."""
        x, y = self.xy(latitude, longitude)
        located = np.isfinite(x) & np.isfinite(y)
        keys = np.full(len(x), NO_KEY, dtype=np.int64)
        ix = np.floor(x[located] / size).astype(np.int64) + OFFSET
        iy = np.floor(y[located] / size).astype(np.int64) + OFFSET
        keys[located] = (ix << 21) | iy
        return keys


def codes(
    keys: npt.NDArray[np.int64], vocabulary: IntArray | pd.Index[Any]
) -> npt.NDArray[np.intp]:
    """The position of each key in a vocabulary of distinct keys (an array, or its pd.Index made
    once for many lookups: a hash table), or -1 where it is not there."""
    index = vocabulary if isinstance(vocabulary, pd.Index) else pd.Index(vocabulary)
    if len(index) == 0:
        return np.full(len(keys), -1, dtype=np.intp)
    return np.asarray(index.get_indexer(pd.Index(keys)), dtype=np.intp)


HASHED_FROM = 1_024  # keys looked up at once in a hash table rather than by binary search


@dataclass(frozen=True, slots=True)
class KeyOffsets:
    """A sorted vocabulary of cell keys held as offsets from its first: 4 bytes a key where
    they span less than 2^32 (a town's cells), else 8; found without a hash table, by binary
    search (a worker keeps the cells of thousands of markets)."""

    base: int
    offsets: array[int] | memoryview  # "I" or "q"; read by bisect for one home

    @classmethod
    def view(cls, keys: memoryview) -> KeyOffsets:
        """Sorted int64 keys in a buffer (a mapped pack's, cast to "q"), read where they are."""
        return cls(0, keys if keys.format == "q" else keys.cast("q"))

    @classmethod
    def of(cls, keys: IntArray) -> KeyOffsets:
        base = int(keys[0]) if len(keys) else 0
        small = len(keys) == 0 or int(keys[-1]) - base < 1 << 32
        code, dtype = ("I", np.uint32) if small else ("q", np.int64)
        offsets = array(code, (np.asarray(keys, dtype=np.int64) - base).astype(dtype).tobytes())
        return cls(base, offsets)

    def __len__(self) -> int:
        return len(self.offsets)

    @property
    def values(self) -> npt.NDArray[np.integer[Any]]:
        """The offsets for numpy, a view made when asked (a worker holds thousands of these)."""
        offsets = self.offsets
        code = offsets.format if isinstance(offsets, memoryview) else offsets.typecode
        return np.frombuffer(offsets, dtype=np.uint32 if code == "I" else np.int64)

    @property
    def keys(self) -> IntArray:
        return self.values.astype(np.int64) + self.base

    def position(self, key: int) -> int:
        """One key's position, -1 where it is not there."""
        offset = key - self.base
        at = bisect_left(self.offsets, offset)
        return at if at < len(self.offsets) and self.offsets[at] == offset else -1

    def codes(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
        """`codes` of many keys (NO_KEY: -1)."""
        if len(self.offsets) == 0:
            return np.full(len(keys), -1, dtype=np.intp)
        offset = keys - self.base
        values = self.values
        if len(keys) >= HASHED_FROM:  # a hash table of the vocabulary, made for this batch
            found = pd.Index(values.astype(np.int64)).get_indexer(pd.Index(offset))
            return np.asarray(found, dtype=np.intp)
        at = np.minimum(np.searchsorted(values, offset), len(values) - 1)
        return np.where(values[at] == offset, at, -1).astype(np.intp)


@dataclass(frozen=True)
class Blocks:
    """Which columns each term holds in the design: [start, end) of each, in order."""

    size: int  # intercept and size: columns 0 .. size
    groups: tuple[tuple[str, int, int], ...]  # (term, start, end) of each penalised block
    months: tuple[int, int]  # (start, end); the month parameters are the oldest to the second
    # newest: the newest month is pinned at zero

    @property
    def width(self) -> int:
        return self.months[1]


def penalty(blocks: Blocks, strengths: dict[str, float]) -> sp.csr_matrix:
    """The penalty matrix: λ·I on each group's block, λ_time·DᵀD on the months (D the first
    differences of the months with the newest pinned at zero), nothing on intercept and size."""
    diagonal = np.zeros(blocks.width)
    for term, start, end in blocks.groups:
        diagonal[start:end] = strengths[term]
    matrix = sp.diags(diagonal).tocsr()
    start, end = blocks.months
    m = end - start
    if m:
        lam = strengths["time"]
        main = np.full(m, 2.0 * lam)
        main[0] = lam  # the oldest month has one neighbour; the newest free one two (the pin)
        off = np.full(m - 1, -lam)
        band = sp.diags([off, main, off], [-1, 0, 1], shape=(m, m))
        filler = sp.csr_matrix((start, start))
        matrix = matrix + sp.block_diag([filler, band], format="csr")
    return matrix.tocsr()


def solve_normal(system: sp.spmatrix, rhs: FloatArray) -> FloatArray:
    """β of the normal equations `system` β = `rhs`, by a sparse direct (LU) solve."""
    beta: FloatArray = np.asarray(spsolve(sp.csc_matrix(system), rhs), dtype=np.float64)
    return beta


def moment_strength(residual: FloatArray, found: npt.NDArray[np.intp], count: int) -> float:
    """λ = σ²/τ² of a one-way random effect, by the method of moments (unbalanced ANOVA).

    σ² is the variance of residuals within groups, τ² the variance of the groups' true effects:
    what the groups' means vary by beyond what their sizes explain. A grouping that explains
    nothing gets a penalty so strong that its effects are nil."""
    has = found >= 0
    r, g = residual[has], found[has]
    n = len(r)
    if n < 3 or count < 2:
        return 1e12
    sizes = np.bincount(g, minlength=count).astype(np.float64)
    sums = np.bincount(g, weights=r, minlength=count)
    occupied = sizes > 0
    groups = int(occupied.sum())
    if groups < 2 or n - groups < 2:
        return 1e12
    means = np.zeros(count)
    means[occupied] = sums[occupied] / sizes[occupied]
    within = float(np.sum((r - means[g]) ** 2)) / (n - groups)
    grand = float(r.mean())
    between = float(np.sum(sizes[occupied] * (means[occupied] - grand) ** 2))
    n0 = n - float(np.sum(sizes[occupied] ** 2)) / n
    tau2 = (between - (groups - 1) * within) / n0
    if not tau2 > 0 or not within > 0:
        return 1e12
    return within / tau2


def time_strength(effects: FloatArray, sizes: FloatArray, within: float) -> float:
    """λ_time = σ²/τ² for a random walk of month levels: τ² is the variance of one month's step
    beyond the noise of two months' means."""
    if len(effects) < 3 or not within > 0:
        return 1e12
    steps = np.diff(effects)
    safe = np.maximum(sizes, 1.0)
    noise = within * (1.0 / safe[:-1] + 1.0 / safe[1:])
    tau2 = float(np.mean(steps**2 - noise))
    if not tau2 > 0:
        return within * 1e6
    return within / tau2


def pack_keys(keys: IntArray) -> bytes:
    """Sorted cell keys as the zlib-compressed differences of each from the one before: about
    a twentieth of their 8 bytes each, for a model held in memory among thousands."""
    steps = np.diff(np.asarray(keys, dtype=np.int64), prepend=np.int64(0))
    return zlib.compress(steps.astype("<i8").tobytes())


def unpack_keys(packed: bytes) -> IntArray:
    """The keys of `pack_keys`, exactly."""
    keys: IntArray = np.cumsum(np.frombuffer(zlib.decompress(packed), dtype="<i8"))
    return keys
