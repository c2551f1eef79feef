"""Fit, then save and activate: the one path of a retrain job and of `python -m app.train`."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from app.domain.fitting import fit_stream, fit_table, select_window
from app.domain.gate import Verdict, judge, judge_chunks, judge_newest
from app.domain.kinds import Model
from app.domain.listings import features, target
from app.domain.located import fit_located
from app.domain.located_fitting import fit_located_table, located
from app.domain.located_model import LocatedModel
from app.domain.place_rules import places_of
from app.domain.sale_dates import SOLD_AT, SaleDates
from app.storage import ListingStore, Registry, Snapshot


def fit_stored(
    store: ListingStore,
    snapshot: Snapshot,
    *,
    folds: int,
    window_days: int | None,
    source: str,
    champion: Model | None = None,
    tolerance: float = 0.0,
    trim: bool = True,
) -> tuple[Model, dict[str, Any], Verdict]:
    """A fit of a stored training set, and the promotion gate's verdict on the same rows.

    With no training window only the four columns are read, and the fit is solved from
    sufficient statistics: a training set grown by appends to millions of sales fits in a few
    hundred megabytes. With a window the table is read whole (the window needs the sale dates),
    and the gate judges on the rows in the window.
    """
    if champion is None or isinstance(champion, LocatedModel):
        frame = store.read(snapshot)
        if located(frame):
            return fit_stored_located(frame, folds, source, window_days, champion, tolerance, trim)
    if window_days is None:
        dates = SaleDates()
        chunks = list(store.chunks(snapshot, dates=dates))
        verdict = judge_chunks(chunks, champion, tolerance)  # before the fit empties `chunks`
        model, card = fit_stream(chunks, folds=folds, source=source, dates=dates)
        return model, card, verdict
    frame = store.read(snapshot)
    model, card = fit_table(frame, folds=folds, source=source, window_days=window_days)
    in_window, _ = select_window(frame, window_days)
    return model, card, judge(features(in_window), target(in_window), champion, tolerance)


def fit_stored_located(
    frame: pd.DataFrame,
    folds: int,
    source: str,
    window_days: int | None,
    champion: Model | None,
    tolerance: float,
    trim: bool = True,
) -> tuple[Model, dict[str, Any], Verdict]:
    """A located fit of stored sales that say where they are, judged on the newest of them."""
    model, card = fit_located_table(
        frame, folds=folds, source=source, window_days=window_days, trim=trim
    )
    in_window, _ = select_window(frame, window_days)
    X, y = features(in_window), target(in_window)
    places = places_of(in_window, SOLD_AT)

    def challenger(rows: npt.NDArray[np.bool_]) -> Model:
        found = fit_located(X[rows], y[rows], places.take(rows), folds=2, trim=trim, held_out=False)
        return found.model

    return model, card, judge_newest(X, y, places, champion, tolerance, challenger)


def save_version(
    registry: Registry,
    model: Model,
    card: dict[str, Any],
    snapshot: Snapshot,
    *,
    activate_by: str | None,
) -> str:
    """Save a fitted model as a new version, naming the training set it saw; activate it when
    `activate_by` names who does."""
    card["training"].update({"set": snapshot.set_id, "batches": list(snapshot.batches)})
    version = registry.save(model, card)
    if activate_by is not None:
        registry.activate(version, by=activate_by, promotion=True)
    return version
