"""Estimates by the served models, counted in the metrics: one home, many, or many across markets.

The metrics count estimates by the default market's model version; every other market's are
counted under one label, so the number of series does not grow with the number of markets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from app.domain import comps, located_one
from app.domain.arrays import FloatArray
from app.domain.comparables import comparables
from app.domain.kinds import Model
from app.domain.located_model import LocatedModel
from app.domain.markets import is_market_name
from app.domain.model import PARTS, Explanation, Explanations, explain_many
from app.domain.terms import Places
from app.observability import metrics
from app.service.serving import ServedModels
from app.storage import LoadedModel

OTHER_MARKETS = "other-markets"
HALVED_FROM = 20_000  # rows of a located batch estimated in two halves at once

# A plain market's model takes no place: a home that gives one is told so, in one shared dict.
PLACE_NOT_USED = {
    "code": "place_not_used",
    "field": "area",
    "message": "this market's model is fitted on beds, baths and sqft alone: the home's area, "
    "coordinates and as_of are not used",
}


def estimate_one(
    loaded: LoadedModel, beds: float, baths: float, sqft: float, level: float, label: str = ""
) -> Explanation:
    """One home that says nothing of where or when it is (`estimate_home` for one that does)."""
    model = loaded.model
    if isinstance(model, LocatedModel):
        explained = located_one.explain_home(model, beds, baths, sqft, level)
    else:
        explained = model.explain(beds, baths, sqft, level)
    metrics.TALLY.estimate(label or loaded.version)
    return explained


def estimate_home(
    loaded: LoadedModel,
    beds: float,
    baths: float,
    sqft: float,
    level: float,
    label: str,
    place: tuple[str | None, float, float, int],
) -> Explanation:
    """One home with its area, latitude, longitude and valuation month (-1: none): by a
    located market's model, or a plain one's (which takes none of them)."""
    model = loaded.model
    if isinstance(model, LocatedModel):
        explained = located_one.explain_home(model, beds, baths, sqft, level, *place)
    else:
        explained = model.explain(beds, baths, sqft, level)
        explained.warnings.append(PLACE_NOT_USED)
    metrics.TALLY.estimate(label or loaded.version)
    return explained


NO_COMPS = {
    "code": "no_comps",
    "field": "comps",
    "message": "this market's model values homes without comparable sales (its sales say "
    "nothing of where they are)",
}
COMPS_NEED_COORDINATES = {
    "code": "no_comps",
    "field": "latitude",
    "message": "comparable sales are found by coordinates: give the home's latitude and longitude",
}
COMPS_NOT_LISTED = {
    "code": "comps_not_listed",
    "field": "comps",
    "message": "this service does not list comparable sales (HOUSE_PRICE_LIST_COMPS is off); "
    "the estimate still uses them",
}


def list_comps(
    loaded: LoadedModel,
    beds: float,
    baths: float,
    sqft: float,
    place: tuple[str | None, float, float, int],
    n: int,
    listing: bool = True,
) -> tuple[list[dict[str, object]], dict[str, str] | None]:
    """A home's `n` comps, adjusted to it, or none with the reason (a warning)."""
    model = loaded.model
    if not isinstance(model, LocatedModel) or model.similarity is None:
        return [], NO_COMPS
    if not listing:
        return [], COMPS_NOT_LISTED
    found = comparables(model, beds, baths, sqft, *place, n)
    return found, (None if found else COMPS_NEED_COORDINATES)


def estimate_many(
    loaded: LoadedModel,
    X: FloatArray,
    level: float,
    label: str = "",
    places: Places | None = None,
) -> Explanations:
    """Every row of an (n, 3) array of beds, baths, sqft, bit for bit as `estimate_one`."""
    explained = _explained(loaded.model, X, level, places, halved=True)
    metrics.TALLY.estimate(label or loaded.version, len(X))
    return explained


Read = Callable[[], tuple[FloatArray, Places | None]]


def estimate_read(
    loaded: LoadedModel, first: Read, second: Read, level: float, label: str = ""
) -> Explanations:
    """The homes of a batch read in two halves (`first` and `second` each read one: its beds,
    baths and sqft, and its places), each half read and estimated on a thread of its own at
    once: `estimate_many` of the whole, bit for bit, sooner (reading, numpy and the search of
    comps let go of the interpreter in part). An error of either half's reading is raised,
    and nothing is counted."""

    def half(read: Read) -> Explanations:
        X, places = read()
        return _explained(loaded.model, X, level, places, halved=False)

    found = _halves_at_once(loaded.model, level, lambda: half(first), lambda: half(second))
    metrics.TALLY.estimate(label or loaded.version, len(found.price))
    return found


def _halves_at_once(
    model: Model,
    level: float,
    first: Callable[[], Explanations],
    second: Callable[[], Explanations],
) -> Explanations:
    """Two halves of a batch estimated at once, the first on another thread, joined; the
    model readied here first (not by two threads at once), each half's search of comps on
    half the cores."""
    _ready(model, level)

    def shared(half: Callable[[], Explanations]) -> Explanations:
        with comps.shared_by(2):
            return half()

    with ThreadPoolExecutor(1) as other:
        submitted = other.submit(shared, first)
        rest = shared(second)  # meanwhile, on this thread
        return Explanations.joined([submitted.result(), rest])


def _explained(
    model: Model, X: FloatArray, level: float, places: Places | None, halved: bool
) -> Explanations:
    """`estimate_many`'s numbers and warnings, uncounted; `halved`: a large located batch's
    two halves at once."""
    if isinstance(model, LocatedModel):
        if halved:
            return _located_many(model, X, level, places)
        return model.explain_many(X, level, places)
    explained = explain_many(model, X, level)
    if places is not None:
        given = (places.month >= 0) | np.isfinite(places.latitude) | (places.area != None)  # noqa: E711
        for i in np.flatnonzero(given).tolist():
            explained.warnings.setdefault(i, []).append(PLACE_NOT_USED)
    return explained


def _ready(model: Model, level: float) -> None:
    """A located model's tables and comps readied on this thread, not by two at once."""
    if isinstance(model, LocatedModel):
        model.explain_many(np.array([[3.0, 2.0, 1_500.0]]), level, Places.empty(1))


def _located_many(
    model: LocatedModel, X: FloatArray, level: float, places: Places | None
) -> Explanations:
    """A located model's estimates of many homes; from HALVED_FROM rows on a machine of two
    cores or more, of their two halves at once (numpy and the search of comps let go of the
    interpreter, so the halves' work overlaps): the same numbers, sooner."""
    n = len(X)
    if n < HALVED_FROM or comps.cores() < 2:
        return model.explain_many(X, level, places)

    def rows(start: int, end: int) -> Explanations:
        part = None if places is None else places.take(slice(start, end))
        return model.explain_many(X[start:end], level, part)

    return _halves_at_once(model, level, lambda: rows(0, n // 2), lambda: rows(n // 2, n))


def label_of(served: ServedModels, market: str, loaded: LoadedModel) -> str:
    """What the metrics count an estimate of this market under."""
    return loaded.version if market == served.default else OTHER_MARKETS


@dataclass(frozen=True)
class Routed:
    """Estimates of rows that name their markets: each row's market is `names[codes[row]]`."""

    found: Explanations
    codes: npt.NDArray[np.intp]
    names: list[str]
    versions: list[str]


@dataclass(frozen=True)
class Unroutable:
    """Rows whose market is malformed or not served: by market, the row indices (from 0)."""

    malformed: dict[str, list[int]]
    unknown: dict[str, list[int]]


def estimate_routed(
    served: ServedModels,
    markets: Sequence[object] | pd.Series,
    X: FloatArray,
    level: float,
    default: str | None = None,
    places: Places | None = None,
) -> Routed | Unroutable:
    """Estimate each row by its market's model (an empty cell or None: `default`, or else the
    default market).

    Rows are grouped by market and each group estimated in one vectorised pass, so a batch
    spread over many markets costs about what one market's does.
    """
    column = markets if isinstance(markets, pd.Series) else pd.Series(list(markets), dtype=object)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    fallback = default or served.default
    names = [str(u).strip() if u is not None else fallback for u in uniques]
    if (codes < 0).any():  # empty cells: the fallback market
        names.append(fallback)
        codes = np.where(codes < 0, len(names) - 1, codes)
    malformed = [k for k, n in enumerate(names) if not is_market_name(n)]
    unknown = [k for k, n in enumerate(names) if k not in malformed and n not in served.models]
    if malformed or unknown:
        return Unroutable(
            malformed={names[k]: _rows_of(codes, k) for k in malformed},
            unknown={names[k]: _rows_of(codes, k) for k in unknown},
        )
    models = [served.get(n, level) for n in names]
    if len(names) == 1:
        label = label_of(served, names[0], models[0])
        found = estimate_many(models[0], X, level, label, places)
        return Routed(found, codes, names, [models[0].version])
    # Rows sorted by market once: each market's rows are a slice (no copy), estimated in one
    # pass, and the answers put back in row order once.
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(names)))]).tolist()
    ordered = X[order]
    ordered_places = None if places is None else places.take(order)
    names_of_parts = max(
        (m.model.names if isinstance(m.model, LocatedModel) else PARTS for m in models), key=len
    )
    n = len(X)
    price, low, high = np.empty(n), np.empty(n), np.empty(n)
    # A plain model's rows have no area, location, time or comps parts: zero dollars each.
    parts = np.zeros((n, len(names_of_parts)))
    warnings: dict[int, list[dict[str, object]]] = {}
    for k, loaded in enumerate(models):
        start, end = bounds[k], bounds[k + 1]
        rows = None if ordered_places is None else ordered_places.take(slice(start, end))
        label = label_of(served, names[k], loaded)
        part = estimate_many(loaded, ordered[start:end], level, label, rows)
        price[start:end], low[start:end], high[start:end] = part.price, part.low, part.high
        parts[start:end, : part.contributions.shape[1]] = part.contributions
        if part.warnings:
            where = order[start:end].tolist()
            warnings.update((where[i], items) for i, items in part.warnings.items())
    unsorted = np.empty(n, dtype=np.intp)
    unsorted[order] = np.arange(n)
    found = Explanations(
        price[unsorted], low[unsorted], high[unsorted], parts[unsorted], warnings, names_of_parts
    )
    return Routed(found, codes, names, [m.version for m in models])


def _rows_of(codes: npt.NDArray[np.intp], k: int, most: int = 10) -> list[int]:
    return [int(i) for i in np.flatnonzero(codes == k)[:most]]
