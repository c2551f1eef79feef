"""A market's comps as one packed buffer: 36 bytes a sale, in a k-d tree, shared by workers.

Every worker that values a home of a located market searches the same sales with the same
residuals, so they are packed once into a buffer that a machine keeps as a file and every
worker maps (the service's `comps_files`): a header, the split of each inner node of the
sales' k-d tree (`comps.tree`), one RECORD a sale in the tree's order, the few prices a float32
does not hold exactly, and the model's cells (keys and effects of each scale of its location
term, which workers read from here). The compiled search (app/domain/_knn.c) reads the records
in place: a sale's search point is (east * km_east, north * km_north, size, year_km / 12 *
month), its month kept as months before the newest (the newest for an undated sale), so no
point is held twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from app.domain.arrays import FloatArray
from app.domain.comps import LEAF, NO_DAY, Similarity, month_of_day, tree, tree_nodes
from app.domain.terms import KM_PER_DEGREE_LATITUDE

Buffer = bytes | bytearray | memoryview  # a pack in memory, or a view of a mapped file

# One sale: where (degrees from the market's centre), its search coordinate for size and its
# residual under the model, then what a listing shows: price (the exact one among EXCEPTIONS
# where a float32 rounds it), size, month and day of sale, and area and bedrooms
# (comps.SALE's `area_beds`). The offsets are the compiled search's.
RECORD = np.dtype(
    [
        ("north", "<f4"),
        ("east", "<f4"),
        ("size", "<f4"),  # size_km * log sqft
        ("residual", "<f4"),
        ("price", "<f4"),
        ("sqft", "<f4"),
        ("baths", "<f4"),
        ("month", "<i2"),  # months after the newest (<= 0); 0 for an undated sale
        ("day", "u1"),  # of the month, 1 to 31; 0: undated
        ("unused", "u1"),
        ("area_beds", "<u4"),
    ]
)
EXCEPTION = np.dtype([("position", "<i8"), ("price", "<f8")])
HEADER = np.dtype(
    [
        ("magic", "S8"),
        ("sales", "<i8"),
        ("nodes", "<i8"),  # inner nodes of the k-d tree
        ("leaf", "<i8"),  # most sales a leaf holds
        ("km_east", "<f8"),
        ("km_north", "<f8"),
        ("year_km", "<f8"),
        ("last_month", "<i8"),
        ("exceptions", "<i8"),
        ("digest", "S16"),  # BLAKE2b of the buffer with these bytes zero
        ("scale_cells", "<i8", (2,)),  # the cells of each scale of the model's location
    ]
)
MAGIC = b"HPCOMPS2"
_DIGEST_AT = HEADER.fields["digest"][1] if HEADER.fields else 0  # where the digest sits
_EPOCH = date(1970, 1, 1).toordinal()
# What a buffer's name among a machine's files carries beside its version's checksum: a
# release that packs differently packs anew.
FORMAT = "c3"


class DamagedPack(ValueError):
    """A buffer that is not a whole pack of comps: cut short, or its digest does not match."""


def pack(
    sales: npt.NDArray[np.void],
    residual: FloatArray,
    similarity: Similarity,
    km_east: float,
    last_month: int,
    places: Sequence[tuple[npt.NDArray[np.int64], bytes]] = (),
) -> bytes:
    """The sales (`comps.SALE` records, with coordinates) and each one's residual, packed;
    with the model's cells of each scale (`places`: sorted keys and their effects' bytes,
    float64), which the workers then read from the pack instead of each holding them."""
    if len(places) > 2:
        raise ValueError("a pack holds the cells of two scales at most")
    n = len(sales)
    records = np.empty(n, dtype=RECORD)
    for name in ("north", "east", "sqft", "baths", "area_beds"):
        records[name] = sales[name]
    records["month"], records["day"] = _month_and_day(sales["day"], last_month)
    records["unused"] = 0
    records["size"] = similarity.size_km * np.log(sales["sqft"].astype(np.float64))
    records["residual"] = residual
    records["price"] = sales["price"]
    shape = (LEAF, km_east, KM_PER_DEGREE_LATITUDE, similarity.year_km, last_month)
    order, split, dim, _ = tree(search_points(records, shape), LEAF, in_place=True)
    records = records[order]
    price = sales["price"][order]
    rounded = np.flatnonzero(records["price"].astype(np.float64) != price)
    exceptions = np.empty(len(rounded), dtype=EXCEPTION)
    exceptions["position"], exceptions["price"] = rounded, price[rounded]
    header = np.zeros(1, dtype=HEADER)
    values = (MAGIC, n, len(split), LEAF, km_east, KM_PER_DEGREE_LATITUDE)
    for name, value in zip(HEADER.names or (), values, strict=False):
        header[name] = value
    header["year_km"], header["last_month"] = similarity.year_km, last_month
    header["exceptions"] = len(exceptions)
    header["scale_cells"][0, : len(places)] = [len(keys) for keys, _ in places]
    body = records.tobytes()
    parts = [header.tobytes(), split.tobytes(), dim.tobytes(), bytes(-len(dim) % 8), body]
    parts += [bytes(-len(body) % 8), exceptions.tobytes()]
    for keys, effects in places:
        if len(effects) != 8 * len(keys):
            raise ValueError("one effect a cell")
        parts += [np.asarray(keys, dtype="<i8").tobytes(), bytes(effects)]
    found = b"".join(parts)
    digest = hashlib.blake2b(found, digest_size=16).digest()
    return found[:_DIGEST_AT] + digest + found[_DIGEST_AT + 16 :]


def _month_and_day(
    day: npt.NDArray[np.int32], last_month: int
) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.uint8]]:
    """Each sale's month after `last_month` and day of the month (0 and 0 undated)."""
    dated = day != NO_DAY
    month = np.where(dated, month_of_day(day) - last_month, 0)
    if dated.any() and not (month.min() >= -(1 << 15) and month.max() < 1 << 15):
        raise ValueError("sales more than 2,730 years apart cannot be packed")
    first = (month + last_month - 1970 * 12).astype("datetime64[M]").astype("datetime64[D]")
    of_month = np.where(dated, day - first.astype(np.int64) + 1, 0)
    return month.astype(np.int16), of_month.astype(np.uint8)


def search_points(
    records: npt.NDArray[np.void], shape: tuple[int, float, float, float, int]
) -> FloatArray:
    """Each record's search point, as the compiled search makes it (the same operations)."""
    _, km_east, km_north, year_km, last_month = shape
    month = (records["month"].astype(np.int64) + last_month).astype(np.float64)
    per_month = year_km / 12.0
    return np.column_stack(
        [
            records["east"].astype(np.float64) * km_east,
            records["north"].astype(np.float64) * km_north,
            records["size"].astype(np.float64),
            per_month * month,
        ]
    )


@dataclass(frozen=True, slots=True)
class Packed:
    """A pack's parts, as views of its buffer (nothing copied)."""

    split: npt.NDArray[np.float64]  # each inner node's split value (`comps.tree`)
    dim: npt.NDArray[np.uint8]  # and the coordinate it splits
    records: npt.NDArray[np.void]
    shape: tuple[int, float, float, float, int]  # leaf, km_east, km_north, year_km, last_month
    prices: dict[int, float]  # the exact price of each record whose float32 rounds it
    # Each scale's cells: sorted keys and their effects, views of the pack cast to "q" and "d"
    places: tuple[tuple[memoryview[int], memoryview[float]], ...] = ()

    def __len__(self) -> int:
        return len(self.records)

    def listed(self, rows: list[int]) -> list[tuple[Any, ...]]:
        """The rows' north, east, price, sqft, baths, day (since 1970-01-01, NO_DAY undated)
        and area_beds, in plain numbers (a request lists up to 20)."""
        last, prices = self.shape[4], self.prices
        out: list[tuple[Any, ...]] = []
        for row, record in zip(rows, self.records[rows].tolist(), strict=True):
            north, east, _, _, price, sqft, baths, month, of_month, _, area_beds = record
            day = NO_DAY
            if of_month:
                year, month = divmod(last + month, 12)
                day = date(year, month + 1, of_month).toordinal() - _EPOCH
            out.append((north, east, prices.get(row, price), sqft, baths, day, area_beds))
        return out

    def points(self) -> FloatArray:
        """Every record's search point, as the compiled search reads it (for scipy's tree)."""
        return search_points(self.records, self.shape)


def read(buffer: Buffer, verify: bool = True) -> Packed:
    """A pack's parts; DamagedPack if it is not a whole one (its digest checked if `verify`)."""
    view = memoryview(buffer).cast("B")
    if len(view) < HEADER.itemsize:
        raise DamagedPack("shorter than a header")
    header = np.frombuffer(view, dtype=HEADER, count=1)[0]
    if header["magic"] != MAGIC:
        raise DamagedPack("not a pack of comps")
    n, nodes, m = int(header["sales"]), int(header["nodes"]), header["exceptions"]
    if not (0 <= nodes <= n and int(header["leaf"]) >= 1) or nodes != tree_nodes(
        n, int(header["leaf"])
    ):
        raise DamagedPack("its tree does not match its sales")
    scales = [int(c) for c in header["scale_cells"] if c > 0]
    at = HEADER.itemsize
    records_at = at + 8 * nodes + nodes + (-nodes % 8)
    exceptions_at = records_at + RECORD.itemsize * n
    exceptions_at += -exceptions_at % 8
    places_at = exceptions_at + EXCEPTION.itemsize * int(m)
    if len(view) != places_at + 16 * sum(scales):
        raise DamagedPack(f"{len(view)} bytes where its header says otherwise")
    if verify:
        hasher = hashlib.blake2b(view[:_DIGEST_AT], digest_size=16)
        hasher.update(bytes(16))
        hasher.update(view[_DIGEST_AT + 16 :])
        # (read from the bytes: numpy's fixed-size bytes drop a digest's trailing zeros)
        if hasher.digest() != bytes(view[_DIGEST_AT : _DIGEST_AT + 16]):
            raise DamagedPack("its digest does not match its bytes")
    split = np.frombuffer(view, dtype=np.float64, count=nodes, offset=at)
    dim = np.frombuffer(view, dtype=np.uint8, count=nodes, offset=at + 8 * nodes)
    if nodes and int(dim.max()) > 3:
        raise DamagedPack("its tree splits a coordinate the sales do not have")
    records = np.frombuffer(view, dtype=RECORD, count=n, offset=records_at)
    exceptions = np.frombuffer(view, dtype=EXCEPTION, count=int(m), offset=exceptions_at)
    shape = (
        int(header["leaf"]),
        float(header["km_east"]),
        float(header["km_north"]),
        float(header["year_km"]),
        int(header["last_month"]),
    )
    prices = dict(zip(exceptions["position"].tolist(), exceptions["price"].tolist(), strict=True))
    places = []
    for count in scales:
        keys, effects = places_at, places_at + 8 * count
        places.append((view[keys:effects].cast("q"), view[effects : effects + 8 * count].cast("d")))
        places_at += 16 * count
    return Packed(split, dim, records, shape, prices, tuple(places))
