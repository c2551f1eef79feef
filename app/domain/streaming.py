"""Least squares from sufficient statistics, for training sets too large to hold as a table.

The rows arrive as (m, 4) arrays of beds, baths, sqft, price. Only those arrays are kept (32
bytes a row: 10,000,000 sales take 320 MB, freed chunk by chunk once used), and every fit, the
full one and the one per cross-validation fold, is solved from sums of shifted cross-products,
which equals, to 1e-9 relative, scikit-learn's LinearRegression on the same rows.
The folds are the ones scikit-learn's shuffled KFold makes with the same seed, so the metrics
match too.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, replace

import numpy as np

from app.domain.arrays import FloatArray
from app.domain.calibration import calibrate
from app.domain.errors import TooFewRows
from app.domain.model import PriceModel
from app.domain.rules import FEATURES, TARGET


@dataclass
class Moments:
    """Row count and sums of a set of rows, around a fixed shift (for numerical accuracy)."""

    shift: FloatArray  # (4,): a typical row; sums are of (row - shift)
    n: int = 0
    s: FloatArray | None = None  # (4,) sum
    ss: FloatArray | None = None  # (4, 4) sum of outer products

    def add(self, rows: FloatArray) -> None:
        d = rows - self.shift
        s, ss = d.sum(axis=0), d.T @ d
        self.s = s if self.s is None else self.s + s
        self.ss = ss if self.ss is None else self.ss + ss
        self.n += len(rows)

    def minus(self, other: Moments) -> Moments:
        assert self.s is not None and self.ss is not None
        assert other.s is not None and other.ss is not None
        return Moments(self.shift, self.n - other.n, self.s - other.s, self.ss - other.ss)

    def solve(self) -> tuple[FloatArray, float]:
        """Weights and intercept of least squares of the last column on the first three."""
        assert self.s is not None and self.ss is not None
        mean = self.s / self.n
        centred = self.ss - self.n * np.outer(mean, mean)
        sxx, sxy = centred[:3, :3], centred[:3, 3]
        weights: FloatArray = np.asarray(np.linalg.lstsq(sxx, sxy, rcond=None)[0], dtype=np.float64)
        mean_row = mean + self.shift
        return weights, float(mean_row[3] - mean_row[:3] @ weights)


def kfold_ids(n: int, folds: int, seed: int) -> np.ndarray:
    """The fold of every row, as scikit-learn's KFold(folds, shuffle=True, random_state=seed)."""
    # scikit-learn's own draw (its int64 permutation is also faster to shuffle than int32).
    order = np.random.RandomState(seed).permutation(n)
    sizes = np.full(folds, n // folds)
    sizes[: n % folds] += 1
    ids = np.empty(n, dtype=np.int8)
    start = 0
    for k, size in enumerate(sizes):
        ids[order[start : start + size]] = k
        start += size
    return ids


@dataclass(frozen=True)
class StreamFit:
    model: PriceModel
    y: FloatArray
    out_of_fold: FloatArray


def fit_chunks(
    chunks: list[FloatArray],
    folds: int = 5,
    seed: int = 0,
    *,
    calibrated: bool = True,
    side: Executor | None = None,
) -> StreamFit:
    """The model, its calibration and its out-of-fold estimates from chunks of rows.

    The list is emptied as the chunks are used, so that their memory is free (when the caller
    holds no other reference) before the calibration needs its own. `calibrated=False` leaves
    the calibration to the caller (`calibrate(fit.y, fit.out_of_fold)`). With `side`, the folds
    are drawn there while this thread finds the columns' extremes (numpy lets go of the
    interpreter for both, so a second core does one of them).
    """
    n = sum(len(c) for c in chunks)
    if n < len(FEATURES) + 1:
        raise TooFewRows(len(FEATURES) + 1, n)
    folds = min(folds, n)
    shift = chunks[0][: min(len(chunks[0]), 1000)].mean(axis=0)
    drawn = side.submit(kfold_ids, n, folds, seed) if side is not None else None
    # A column at a time: numpy reduces a strided column several times faster than it
    # reduces axis 0 of a (m, 4) array four values a row (the same values either way).
    lows = np.full(4, np.inf)
    highs = np.full(4, -np.inf)
    for chunk in chunks:
        lows = np.minimum(lows, [chunk[:, j].min() for j in range(4)])
        highs = np.maximum(highs, [chunk[:, j].max() for j in range(4)])
    ids = drawn.result() if drawn is not None else kfold_ids(n, folds, seed)
    total = Moments(shift)
    per_fold = [Moments(shift) for _ in range(folds)]
    start = 0
    for chunk in chunks:
        chunk_ids = ids[start : start + len(chunk)]
        # The chunk's rows grouped by fold, each fold's rows in their order (a stable sort):
        # the same rows, added in the same order, as a mask per fold, in one gather (`take`
        # copies whole rows, several times faster than indexing with the array).
        grouped = np.take(chunk, np.argsort(chunk_ids, kind="stable"), axis=0)
        ends = np.cumsum(np.bincount(chunk_ids, minlength=folds))
        for k, (begin, end) in enumerate(zip([0, *ends[:-1].tolist()], ends.tolist(), strict=True)):
            if end > begin:
                per_fold[k].add(grouped[begin:end])
        start += len(chunk)
        del grouped
    for part in per_fold:
        assert part.s is not None and part.ss is not None
        total.n += part.n
        total.s = part.s if total.s is None else total.s + part.s
        total.ss = part.ss if total.ss is None else total.ss + part.ss
    weights, intercept = total.solve()
    fold_models = [total.minus(part).solve() for part in per_fold]
    fold_w = np.array([w for w, _ in fold_models])
    fold_b = np.array([b for _, b in fold_models])

    y = np.empty(n)
    predicted = np.empty(n)
    start = 0
    while chunks:
        chunk = chunks.pop(0)
        stop = start + len(chunk)
        chunk_ids = ids[start:stop]
        X = chunk[:, :3]
        # The same order of operations as PriceModel.predict: ((b + w0·x0) + w1·x1) + w2·x2.
        w = np.take(fold_w, chunk_ids, axis=0)
        estimate = np.take(fold_b, chunk_ids) + X[:, 0] * w[:, 0]
        estimate += X[:, 1] * w[:, 1]
        estimate += X[:, 2] * w[:, 2]
        predicted[start:stop] = estimate
        y[start:stop] = chunk[:, 3]
        start = stop
    del chunk, ids
    names = (*FEATURES, TARGET)
    model = PriceModel.from_weights(
        weights,
        intercept,
        ranges={name: (float(lows[i]), float(highs[i])) for i, name in enumerate(names)},
    )
    if calibrated:
        model = replace(model, calibration=calibrate(y, predicted))
    return StreamFit(model=model, y=y, out_of_fold=predicted)
