"""Comparable sales: a market's sales as a table of 32 bytes each, and the most similar to a home.

An appraiser values a home from the sales most like it: near, similar in size, recent. Here a
sale's similarity to a home is a distance in kilometre-equivalents over four coordinates: east
and north of the market's centre (km), log square feet times `size_km` (the kilometres a doubling
of size is worth, so to speak), and the months between its sale and the valuation date times
`year_km` / 12. The `k` nearest are the home's comparable sales (comps), each weighted
1 / (1 + d²): near ones count, far ones little.

What they say is each comp's residual, the log of its price over the model's estimate of it,
that is the log of its price adjusted to the home by the model's terms over the model's estimate
of the home. The estimate moves by their weighted median (one odd sale cannot drag it), shrunk
toward zero by W / (W + `shrink`), W the comps' total weight: few, far or old comps move it
little. The weights of the similarity and the shrinkage are chosen from the data
(`located.choose_similarity`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from app.domain.arrays import FloatArray

if TYPE_CHECKING:
    from app.domain.comps_pack import Packed

_knn: ModuleType | None
try:
    import app.domain._knn as _knn
except ImportError:  # built without a C compiler: scipy's k-d tree finds the same comps, slower
    _knn = None


def compiled() -> ModuleType | None:
    """The compiled search (app/domain/_knn.c), or None where the install has none."""
    return _knn


# One sale, 32 bytes: where (degrees from the market's centre: a few cm apart at worst), what
# it sold for, its size, when (days since 1970-01-01), and its area (index into the model's
# areas, NO_AREA for none) with its bedrooms in the top byte.
SALE = np.dtype(
    [
        ("north", "<f4"),  # degrees of latitude from the market's centre
        ("east", "<f4"),  # degrees of longitude from it
        ("price", "<f8"),
        ("sqft", "<f4"),
        ("baths", "<f4"),
        ("day", "<i4"),
        ("area_beds", "<u4"),
    ]
)
NO_AREA = (1 << 24) - 1
NO_DAY = np.iinfo(np.int32).min
MAX_COMPS = 20  # the most comps a home is valued from, or listed with


@dataclass(frozen=True, slots=True)
class Similarity:
    """How comps are chosen and how much they move an estimate."""

    size_km: float  # kilometre-equivalents per unit of log square feet
    year_km: float  # kilometre-equivalents per year between sale and valuation
    k: int  # comps a home is valued from
    shrink: float  # W / (W + shrink): the weight comps need to move an estimate half-way

    def describe(self) -> dict[str, Any]:
        return {
            "size_km": self.size_km,
            "year_km": self.year_km,
            "k": self.k,
            "shrink": self.shrink,
        }


def table(
    X: FloatArray,
    price: FloatArray,
    north: FloatArray,
    east: FloatArray,
    day: npt.NDArray[np.int64],
    area: npt.NDArray[np.intp],
) -> npt.NDArray[np.void]:
    """The sales as SALE records (only those with coordinates can be comps: the caller keeps
    them). `north`, `east`: degrees from the market's centre; `area`: each sale's index
    among the model's areas, -1 for none."""
    out = np.zeros(len(price), dtype=SALE)
    out["north"], out["east"], out["price"] = north, east, price
    out["sqft"], out["baths"] = X[:, 2], X[:, 1]
    out["day"] = day
    areas = np.where(area >= 0, area, NO_AREA).astype(np.uint32)
    out["area_beds"] = areas | (X[:, 0].astype(np.uint32) << 24)
    return out


def beds_of(sales: npt.NDArray[np.void]) -> FloatArray:
    return (sales["area_beds"] >> 24).astype(np.float64)


def area_of(sales: npt.NDArray[np.void]) -> npt.NDArray[np.intp]:
    found = (sales["area_beds"] & NO_AREA).astype(np.intp)
    return np.where(found == NO_AREA, -1, found)


def features_of(sales: npt.NDArray[np.void]) -> FloatArray:
    """Beds, baths and sqft of the sales, as the model reads a home's."""
    out = np.empty((len(sales), 3))
    out[:, 0] = beds_of(sales)
    out[:, 1] = sales["baths"]
    out[:, 2] = sales["sqft"]
    return out


def month_of_day(day: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
    """year * 12 + month - 1 of each day since 1970-01-01; -1 where there is none."""
    dated = day != NO_DAY
    months = np.full(len(day), -1, dtype=np.int64)
    found = np.asarray(day[dated], dtype="datetime64[D]").astype("datetime64[M]").astype(np.int64)
    months[dated] = found + 1970 * 12
    return months


def points(
    x: FloatArray, y: FloatArray, log_sqft: FloatArray, month: FloatArray, similarity: Similarity
) -> FloatArray:
    """The coordinates comps are found in, kilometre-equivalents."""
    return np.column_stack(
        [x, y, similarity.size_km * log_sqft, similarity.year_km * np.asarray(month) / 12.0]
    )


def weights(distance: FloatArray) -> FloatArray:
    """Each comp's weight from its distance: 1 / (1 + d²); 0 where there is no comp (inf)."""
    with np.errstate(over="ignore", invalid="ignore"):
        found = 1.0 / (1.0 + distance * distance)
    return np.where(np.isfinite(distance), found, 0.0)


def weighted_median(values: FloatArray, weight: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Each row's weighted median, the first value in order at which the weight so far
    reaches half the row's total (0 for a row without weight); and that total, summed in the
    same order."""
    order = np.argsort(values, axis=1, kind="stable")
    sorted_values = np.take_along_axis(values, order, axis=1)
    cumulative = np.cumsum(np.take_along_axis(weight, order, axis=1), axis=1)
    total = cumulative[:, -1]
    at = np.argmax(cumulative >= 0.5 * total[:, None], axis=1)
    found = sorted_values[np.arange(len(values)), at]
    return np.where(total > 0, found, 0.0), total


def shift(residual: FloatArray, weight: FloatArray, shrink: float) -> FloatArray:
    """What comps move a log estimate by: their weighted median residual, times W / (W +
    shrink), W their total weight."""
    return shift_and_weight(residual, weight, shrink)[0]


def shift_and_weight(
    residual: FloatArray, weight: FloatArray, shrink: float
) -> tuple[FloatArray, FloatArray]:
    """`shift`, and the comps' total weight W (how many, how near: what the range widens by)."""
    median, total = weighted_median(np.where(weight > 0, residual, 0.0), weight)
    return median * (total / (total + shrink)), total


def shift_one(residual: list[float], distance: list[float], shrink: float) -> tuple[float, float]:
    """`shift_and_weight` of one home, in plain floats: the same operations in the same order,
    so that it equals its row of a batch bit for bit."""
    weight = [1.0 / (1.0 + d * d) for d in distance]
    values = [r if w > 0 else 0.0 for r, w in zip(residual, weight, strict=True)]
    order = sorted(range(len(values)), key=values.__getitem__)  # stable, as numpy's
    total = 0.0
    running = []
    for i in order:
        total += weight[i]
        running.append(total)
    if not total > 0:
        return 0.0, total
    half = 0.5 * total
    at = next(j for j, c in enumerate(running) if c >= half)
    return values[order[at]] * (total / (total + shrink)), total


LEAF = 8  # most points a leaf of a k-d tree holds
# A batch of this many homes or more is searched on each core the process may run on (at most
# MOST_THREADS): the answers are the same, sooner.
SHARED_FROM = 8_192
MOST_THREADS = 4


def allowed_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may use: those it may run on (its CPU affinity), fewer where its
    control group's CPU quota allows less (a container started with `--cpus`), whole cores."""
    if hasattr(os, "sched_getaffinity"):
        found = len(os.sched_getaffinity(0))
    else:
        found = os.cpu_count() or 1
    for quota_file, period_file in (
        (cgroup / "cpu.max", None),  # cgroup v2: "quota period", or "max period"
        (cgroup / "cpu" / "cpu.cfs_quota_us", cgroup / "cpu" / "cpu.cfs_period_us"),  # v1
    ):
        try:
            words = quota_file.read_text().split()
            if period_file is not None:
                words = [words[0], period_file.read_text().split()[0]]
            quota, period = int(words[0]) if words[0] != "max" else -1, int(words[1])
        except (OSError, ValueError, IndexError):
            continue
        if quota > 0 and period > 0:
            found = min(found, max(1, quota // period))
        break
    return found


_CORES = allowed_cores()


def cores() -> int:
    """The cores this process may use (at most MOST_THREADS): what a large batch uses."""
    return min(_CORES, MOST_THREADS)


_SHARING = threading.local()  # how many threads of this search's batch search at once


@contextlib.contextmanager
def shared_by(threads: int) -> Iterator[None]:
    """Searches made on this thread meanwhile take their share of the cores: the batch they
    belong to is worked on by `threads` threads at once, each searching a part of it."""
    before = getattr(_SHARING, "threads", 1)
    _SHARING.threads = threads
    try:
        yield
    finally:
        _SHARING.threads = before


def threads_for(queries: int) -> int:
    """The threads a search of this many queries runs on: its share of the cores (`shared_by`)."""
    if queries < SHARED_FROM:
        return 1
    return max(1, cores() // getattr(_SHARING, "threads", 1))


def tree_nodes(n: int, leaf: int = LEAF) -> int:
    """The inner nodes of the k-d tree of n points: 2^depth - 1, at the least depth whose
    leaves hold at most `leaf` points each (as app/domain/_knn.c counts them)."""
    leaves = 1
    while -(-n // leaves) > leaf:
        leaves *= 2
    return leaves - 1


def tree(
    found: FloatArray, leaf: int = LEAF, in_place: bool = False
) -> tuple[npt.NDArray[np.int64], FloatArray, npt.NDArray[np.uint8], FloatArray]:
    """The k-d tree of points of four coordinates, as the compiled search reads it: where each
    point is from in the tree's order, each inner node's split value and coordinate, and the
    points in the tree's order (`found` itself, reordered, where `in_place` and it is a C array
    of float64: no second copy of a fit's million points). Node i's points [lo, hi) split at mid
    = lo + (hi - lo) // 2 along its widest coordinate: none of [lo, mid) above the split, none
    of [mid, hi) below; node i's children are 2i + 1 and 2i + 2."""
    n, nodes = len(found), tree_nodes(len(found), leaf)
    order = np.empty(n, dtype=np.int64)
    split, dim = np.empty(nodes), np.empty(nodes, dtype=np.uint8)
    if _knn is not None:
        points = np.array(found, dtype=np.float64, order="C", copy=not in_place)
        if not points.flags.writeable:
            points = points.copy()
        _knn.tree(points, leaf, order, split, dim, threads_for(n))
        return order, split, dim, points
    order[:] = np.arange(n)
    todo = [(0, 0, n)] if nodes else []
    while todo:  # without the compiled module: the same kind of tree, by numpy
        node, lo, hi = todo.pop()
        part = found[order[lo:hi]]
        widest = int(np.argmax(part.max(axis=0) - part.min(axis=0)))
        mid = (hi - lo) // 2
        order[lo:hi] = order[lo:hi][np.argpartition(part[:, widest], mid, kind="introselect")]
        dim[node], split[node] = widest, found[order[lo + mid], widest]
        if 2 * node + 1 < nodes:
            todo += [(2 * node + 1, lo, lo + mid), (2 * node + 2, lo + mid, hi)]
    return order, split, dim, np.ascontiguousarray(found[order], dtype=np.float64)


class Tree:
    """Points of four coordinates in the order of their k-d tree: a fit's search. `in_place`:
    `found` may be reordered to be the tree's points (a caller's own copy)."""

    def __init__(self, found: FloatArray, in_place: bool = False) -> None:
        self.order, self.split, self.dim, self.points = tree(found, in_place=in_place)
        self.shape = (LEAF,)

    def nearest(
        self, queries: FloatArray, k: int, allowed: npt.NDArray[np.bool_]
    ) -> tuple[FloatArray, npt.NDArray[np.intp]]:
        """The k points nearest each query among the `allowed` ones (a mask by row of the
        points given): distances and rows, (queries, k); where fewer than k are allowed, the
        rest are inf at row len(points), as `nearest` gives them. One tree serves searches
        among several subsets of its points."""
        n = len(self.order)
        rows = np.append(self.order, n)  # position n: none found
        if _knn is not None and 0 < k <= n:
            distance = np.empty((len(queries), k))
            position = np.empty((len(queries), k), dtype=np.int64)
            asked = np.ascontiguousarray(queries, dtype=np.float64)
            mask = np.ascontiguousarray(allowed[self.order], dtype=np.uint8)
            threads = threads_for(len(asked))
            found = (self.points, self.split, self.dim, self.shape)
            _knn.knn(*found, asked, k, distance, position, threads, mask)
            return distance, rows[position]
        at = np.flatnonzero(allowed[self.order])  # positions in the tree of the allowed points
        distance, index = nearest(self.points[at], queries, k)
        return distance, rows[np.append(at, n)[index]]


def nearest(
    found: FloatArray, queries: FloatArray, k: int, spare: bool = False
) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """The k points of `found` nearest each of `queries`: distances and rows, (queries, k);
    where `found` has fewer than k, the rest are inf at row len(found), as scipy's k-d tree
    gives them. The compiled search where the install has it; `spare`: `found` is the caller's
    to spare, and may be reordered."""
    shape = (len(queries), k)
    if _knn is not None and 0 < k <= len(found):
        made = Tree(found, in_place=spare)
        distance = np.empty(shape)
        position = np.empty(shape, dtype=np.int64)
        asked = np.ascontiguousarray(queries, dtype=np.float64)
        threads = threads_for(len(asked))
        _knn.knn(
            made.points, made.split, made.dim, made.shape, asked, k, distance, position, threads
        )
        return distance, made.order[position]
    from scipy.spatial import cKDTree

    tree = cKDTree(found, balanced_tree=False, compact_nodes=False)
    distance, index = tree.query(queries, k=k)
    return np.asarray(distance).reshape(shape), np.asarray(index).reshape(shape)


class Index:
    """A market's comps (`comps_pack.Packed`) found by similarity, and what they move an
    estimate by: the compiled search reads the pack in place, where every worker of the machine
    maps it; without it, scipy's k-d tree of the same points. Positions are the pack's."""

    __slots__ = ("packed", "residual", "similarity", "tree")

    def __init__(self, packed: Packed, similarity: Similarity) -> None:
        self.packed = packed
        self.similarity = similarity
        if _knn is None:
            from scipy.spatial import cKDTree

            self.residual = packed.records["residual"].astype(np.float64)
            # Built in a third of a balanced tree's time; the neighbours found are the same.
            self.tree = cKDTree(packed.points(), balanced_tree=False, compact_nodes=False)

    def __len__(self) -> int:
        return len(self.packed)

    def query(
        self, x: FloatArray, y: FloatArray, log_sqft: FloatArray, month: FloatArray, k: int
    ) -> tuple[FloatArray, npt.NDArray[np.intp]]:
        """The k most similar sales of each home: distances and positions (rows, k)."""
        k = min(k, len(self))
        found = points(x, y, log_sqft, month, self.similarity)
        if _knn is not None:
            return self._knn(found, k)
        distance, index = self.tree.query(found, k=k)
        shape = (len(found), k)
        return np.asarray(distance).reshape(shape), np.asarray(index).reshape(shape)

    def nearest_one(
        self, x: float, y: float, log_sqft: float, month: float, k: int
    ) -> tuple[list[float], list[int]]:
        """The k most similar sales of one home: distances and positions, as `query` gives them."""
        point = self._point(x, y, log_sqft, month)
        k = min(k, len(self))
        if _knn is not None:
            packed = self.packed
            found: tuple[list[float], list[int]] = _knn.knn_one(
                packed.records, packed.split, packed.dim, packed.shape, *point, k
            )
            return found
        distance, rows = self.tree.query(point, k=k)
        return np.atleast_1d(distance).tolist(), np.atleast_1d(rows).tolist()

    def _point(self, x: float, y: float, log_sqft: float, month: float) -> list[float]:
        """One home's `points`, in plain floats (the same operations)."""
        similarity = self.similarity
        return [x, y, similarity.size_km * log_sqft, similarity.year_km * month / 12.0]

    def _knn(self, found: FloatArray, k: int) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        """The compiled search: distances and positions."""
        assert _knn is not None
        packed = self.packed
        distance = np.empty((len(found), k))
        position = np.empty((len(found), k), dtype=np.int64)
        queries = np.ascontiguousarray(found, dtype=np.float64)
        _knn.knn(
            packed.records,
            packed.split,
            packed.dim,
            packed.shape,
            queries,
            k,
            distance,
            position,
            threads_for(len(queries)),
        )
        return distance, position

    def shift(
        self, x: FloatArray, y: FloatArray, log_sqft: FloatArray, month: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """What comps move each home's log estimate by, and their total weight."""
        similarity = self.similarity
        if _knn is not None:
            k = min(similarity.k, len(self))
            packed = self.packed
            queries = np.ascontiguousarray(points(x, y, log_sqft, month, similarity))
            out, total = np.empty(len(queries)), np.empty(len(queries))
            _knn.shift(
                packed.records,
                packed.split,
                packed.dim,
                packed.shape,
                queries,
                k,
                similarity.shrink,
                out,
                total,
                threads_for(len(queries)),
            )
            return out, total
        distance, index = self.query(x, y, log_sqft, month, similarity.k)
        return shift_and_weight(self.residual[index], weights(distance), similarity.shrink)

    def shift_one(self, x: float, y: float, log_sqft: float, month: float) -> tuple[float, float]:
        """`shift` of one home and its comps' total weight, bit for bit, at a request's cost."""
        similarity = self.similarity
        point = self._point(x, y, log_sqft, month)
        k = min(similarity.k, len(self))
        if _knn is not None:
            packed = self.packed
            found, total = _knn.shift_one(
                packed.records, packed.split, packed.dim, packed.shape, *point, k, similarity.shrink
            )
            return float(found), float(total)
        distance, index = self.tree.query(point, k=k)
        residual = self.residual[index]
        if np.ndim(distance) == 0:  # k = 1: scalars
            return shift_one([float(residual)], [float(distance)], similarity.shrink)
        return shift_one(residual.tolist(), distance.tolist(), similarity.shrink)
