"""The compiled search for comps (app/domain/_knn.c)."""

from typing import Any

Grid = tuple[float, float, float, int, int]  # x0, y0, cell, nx, ny: of points
# x0, y0, cell, nx, ny, km_east, km_north, year_km, last_month: of packed records
Packed = tuple[float, float, float, int, int, float, float, float, int]

def knn(
    points: Any,
    starts: Any,
    grid: Grid | Packed,
    queries: Any,
    k: int,
    distance: Any,
    position: Any,
) -> None: ...
def shift(
    records: Any, distance: Any, position: Any, k: int, shrink: float, out: Any, total: Any
) -> None: ...
def shift_one(
    records: Any,
    starts: Any,
    grid: Packed,
    x: float,
    y: float,
    s: float,
    t: float,
    k: int,
    shrink: float,
) -> tuple[float, float]: ...
def knn_one(
    records: Any, starts: Any, grid: Packed, x: float, y: float, s: float, t: float, k: int
) -> tuple[list[float], list[int]]: ...
