"""The compiled search for comps (app/domain/_knn.c)."""

from typing import Any

Grid = tuple[float, float, float, int, int]  # x0, y0, cell, nx, ny

def knn(
    points: Any, starts: Any, grid: Grid, queries: Any, k: int, distance: Any, position: Any
) -> None: ...
def shift(
    residual: Any, distance: Any, position: Any, k: int, shrink: float, out: Any, total: Any
) -> None: ...
def shift_one(
    points: Any,
    starts: Any,
    grid: Grid,
    residual: Any,
    x: float,
    y: float,
    s: float,
    t: float,
    k: int,
    shrink: float,
) -> tuple[float, float]: ...
def knn_one(
    points: Any, starts: Any, grid: Grid, x: float, y: float, s: float, t: float, k: int
) -> tuple[list[float], list[int]]: ...
