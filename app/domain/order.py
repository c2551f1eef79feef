"""Quantiles and medians of arrays already sorted: numpy's values, bit for bit, without the
partition numpy does again to find them (the calibration sorts first, then asks for a thousand
quantiles of the same rows)."""

from __future__ import annotations

import numpy as np

from app.domain.arrays import FloatArray


def sorted_quantiles(values: FloatArray, q: FloatArray) -> FloatArray:
    """`np.quantile(values, q)` (method "linear") of a sorted, NaN-free 1-D array.

    The same operations in the same order as numpy's: virtual index (n - 1)·q, its floor and
    the next index (both the last one from n - 1 on), and the two-sided linear interpolation.
    """
    n = len(values)
    virtual = (n - 1) * q
    previous = np.floor(virtual)
    following = previous + 1
    above = virtual >= n - 1
    previous[above] = -1
    following[above] = -1
    below = virtual < 0
    previous[below] = 0
    following[below] = 0
    low_index, high_index = previous.astype(np.intp), following.astype(np.intp)
    gamma = virtual - low_index
    low, high = values[low_index], values[high_index]
    difference = high - low
    result: FloatArray = np.add(low, difference * gamma)
    np.subtract(high, difference * (1 - gamma), out=result, where=gamma >= 0.5)
    return result


def sorted_median(values: FloatArray) -> float:
    """`np.median(values)` of a sorted, NaN-free 1-D array (NaN, with numpy's warning, if empty)."""
    if len(values) == 0:
        return float(np.median(values))
    half = len(values) // 2
    middle = values[half : half + 1] if len(values) % 2 else values[half - 1 : half + 1]
    return float(np.mean(middle))
