"""The compiled search for comps, and a located home's terms (app/domain/_knn.c)."""

from typing import Any

Points = tuple[int]  # leaf: of points
# leaf, km_east, km_north, year_km, last_month: of packed records
Packed = tuple[int, float, float, float, int]

def tree(points: Any, leaf: int, order: Any, split: Any, dim: Any, threads: int) -> None: ...
def knn(
    points: Any,
    split: Any,
    dim: Any,
    shape: Points | Packed,
    queries: Any,
    k: int,
    distance: Any,
    position: Any,
    threads: int,
    allowed: Any = None,
) -> None: ...
def shift(
    records: Any,
    split: Any,
    dim: Any,
    shape: Packed,
    queries: Any,
    k: int,
    shrink: float,
    out: Any,
    total: Any,
    threads: int,
) -> None: ...
def shift_one(
    records: Any,
    split: Any,
    dim: Any,
    shape: Packed,
    x: float,
    y: float,
    s: float,
    t: float,
    k: int,
    shrink: float,
) -> tuple[float, float]: ...
def knn_one(
    records: Any,
    split: Any,
    dim: Any,
    shape: Packed,
    x: float,
    y: float,
    s: float,
    t: float,
    k: int,
) -> tuple[list[float], list[int]]: ...
def located(
    intercept: float,
    size: tuple[float, float, float, float],
    centre: tuple[float, float, float],
    projection: tuple[float, float, float, float, int] | None,
    scales: tuple[tuple[float, int, Any, Any], ...],
    months: tuple[int, int, tuple[float, ...]],
    comps: tuple[Any, Any, Any, Packed, int, float, float, float] | None,
    spread: tuple[float, float] | None,
    spread_unplaced: tuple[float, float] | None,
) -> Any: ...
def located_logs(
    located: Any,
    beds: float,
    baths: float,
    log_sqft: float,
    area_effect: float,
    latitude: float,
    longitude: float,
    month: int,
    out: Any,
) -> float | None: ...
