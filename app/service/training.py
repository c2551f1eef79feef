"""Fit, then save and activate: the one path of a retrain job and of `python -m app.train`."""

from __future__ import annotations

from typing import Any

from app.domain.fitting import fit_stream, fit_table, select_window
from app.domain.gate import Verdict, judge, judge_chunks
from app.domain.kinds import Model
from app.domain.listings import SaleDates, features, target
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
) -> tuple[Model, dict[str, Any], Verdict]:
    """A fit of a stored training set, and the promotion gate's verdict on the same rows.

    With no training window only the four columns are read, and the fit is solved from
    sufficient statistics: a training set grown by appends to millions of sales fits in a few
    hundred megabytes. With a window the table is read whole (the window needs the sale dates),
    and the gate judges on the rows in the window.
    """
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
