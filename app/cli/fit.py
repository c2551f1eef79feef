"""What `python -m app.train` does once its arguments are read: import, fit, save, activate."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from app.config import Settings
from app.domain.arrays import FloatArray
from app.domain.errors import Conflict, ServiceError
from app.domain.fitting import fit_stream, fit_table, select_window
from app.domain.kinds import Model
from app.domain.listings import Skipped, read_chunks, read_table, without_rows
from app.domain.located_fitting import LocatedSales, fit_located_sales, located, located_sales
from app.domain.place_rules import AREA, LATITUDE
from app.domain.sale_dates import SaleDates
from app.service.training import fit_stored, save_version
from app.storage import Accepted, ListingStore, Mode, Snapshot, Storage, open_storage


def render(card: dict[str, Any], active: bool) -> str:
    """A readable summary of a model card for the terminal."""
    cv = card["metrics"]["cv"]
    lines = [
        f"model version   {card['version']}{'  (active)' if active else '  (stored, not active)'}",
        f"rows used       {card['training']['rows']:,}  from {card['training']['source']}",
    ]
    skipped = card["training"].get("skipped")
    if skipped is not None:
        lines.append(f"rows left out   {Skipped.described(skipped['rows'], skipped['reasons'])}")
    lines += [
        "",
        f"{'term':<12}{'coefficient':>16}  unit",
    ]
    for name in card["features"]:
        coef = card["coefficients"][name]
        lines.append(f"{name:<12}{coef['value']:>16,.2f}  {coef['unit']}")
    lines.append(f"{'intercept':<12}{card['intercept']:>16,.2f}  $")
    if card.get("kind") == "located":
        return "\n".join(lines + located_lines(card))
    lines += [
        "",
        f"{cv['folds']}-fold cross-validation (shuffled, seed {cv['seed']}):",
        f"  R²                 {cv['r2']:.3f}",
        f"  MAE                ${cv['mae']:,.0f}",
        f"  RMSE               ${cv['rmse']:,.0f}",
        f"  median abs % error {cv['median_ape'] * 100:.1f} %",
    ]
    return "\n".join(lines)


def located_lines(card: dict[str, Any]) -> list[str]:
    """A located card's terms and its accuracy, cross-validated and out of time."""
    terms, metrics = card["terms"], card["metrics"]
    cells = ", ".join(f"{v['cells']:,} of {k}" for k, v in terms["location"]["cells"].items())
    lines = [
        "",
        f"areas           {terms['area']['areas']:,}",
        f"location cells  {cells or 'none (no coordinates)'}",
    ]
    if "time" in terms:
        index = terms["time"]["index"]
        lines.append(
            f"price index     {index[0]['month']} to {index[-1]['month']}: "
            f"{(index[-1]['level'] / index[0]['level'] - 1) * 100:+.1f} %"
        )
    if "comps" in terms:
        comps = terms["comps"]
        lines.append(
            f"comps           the {comps['k']} most similar of {comps['sales']:,} sales "
            f"({comps['size_km']:g} km a unit of log sq ft, {comps['year_km']:g} km a year; "
            f"shrink {comps['shrink']:g})"
        )
    if "equity" in terms:
        lines.append(f"equity          estimates spread ×{terms['equity']['factor']:.3f}")
    outliers = card["training"].get("outliers", {}).get("rows", 0)
    lines.append(f"outliers        {outliers:,} sales left out of the fit")
    lines += [
        "",
        f"{'':<14}{'med err':>9}{'≤10 %':>8}{'≤20 %':>8}{'COD':>7}{'PRD':>8}{'PRB':>8}"
        f"{'90 % in':>9}",
    ]
    for name, label in (
        ("cv", f"{metrics['cv']['folds']}-fold CV"),
        ("out_of_time", "newest 10 %"),
    ):
        m = metrics.get(name)
        if m is not None:
            lines.append(
                f"{label:<14}{m['median_ape'] * 100:>7.1f} %{m['within_10'] * 100:>6.1f} %"
                f"{m['within_20'] * 100:>6.1f} %{m['cod']:>7.1f}{m['prd']:>8.3f}{m['prb']:>+8.3f}"
                f"{m['coverage_90']:>9.3f}"
            )
    return lines


def train(args: argparse.Namespace, settings: Settings) -> dict[str, Any] | None:
    if args.window_days is not None and args.window_days <= 0:
        raise ServiceError("--window-days must be a positive number of days")
    overrides = {"model_dir": args.model_dir, "data_dir": args.data_dir}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    storage = open_storage(settings)
    try:
        return _train(args, settings, storage)
    finally:
        storage.close()


def _train(args: argparse.Namespace, settings: Settings, storage: Storage) -> dict[str, Any] | None:
    if args.if_no_active:
        storage.ensure()  # a start-up script: a new database gets its schema first
    market = storage.market(args.market or settings.default_market)
    registry, store = market.registry, market.store
    window = args.window_days or settings.training_window_days
    stream = _streams(args, window)
    if args.if_no_active and registry.active_version() is not None:
        return None
    # The file is read and checked in full before anything (even the lock) is written.
    skipped = Skipped() if args.skip_invalid else None
    frame = read_table(args.data, skipped=skipped) if args.data and not stream else None
    new_dates = SaleDates()
    new = (
        list(_progress(read_chunks(args.data, args.chunk_rows, new_dates, skipped)))
        if stream
        else []
    )
    storage.ensure()  # only once the data has passed its checks: a bad file writes nothing
    if market.retired():
        raise Conflict(f"market {market.name!r} is retired: prune it before fitting it again")
    with market.fit_lock():
        if args.if_no_active and registry.active_version() is not None:
            return None
        mode: Mode = "append" if args.append else "replace"
        model: Model
        # Fitted before anything is written: a file that cannot be fitted changes nothing.
        if stream:
            rows = sum(len(c) for c in new)
            # Appending, the stored sales' dates join the file's in the one range.
            dates = new_dates
            chunks = _stored_chunks(store, dates, args.chunk_rows) + new if args.append else new
            del new  # the fit frees each chunk once used
            model, card = fit_stream(
                chunks, folds=settings.cv_folds, source=str(args.data), dates=dates
            )
            accepted = _store_file(store, args.data, rows, mode, skipped)
            if accepted.duplicate and args.append:
                # Appended but already stored: the store, not the sum, is the training set.
                model, card, _ = fit_stored(
                    store,
                    _snapshot(store),
                    folds=settings.cv_folds,
                    window_days=None,
                    source=str(args.data),
                )
            training = None
        else:
            training = _training_set(store, frame, append=args.append)
            source = str(args.data or "store")
            read_rows = None if frame is None else len(frame)
            prepared = prepare(training, window, args)
            # A located fit keeps the arrays it takes alone: the table read is let go now
            # (unless a report draws it).
            frame = None
            training = training if args.report else None
            model, card = fit_prepared(prepared, settings, source, window, args)
            del prepared
            if read_rows is not None:
                accepted = _store_file(store, args.data, read_rows, mode, skipped)
                # Appended but already stored: the store, not the sum, is the training set.
                if accepted.duplicate and args.append:
                    training = _training_set(store, None, append=True)
                    model, card = fit_any(training, settings, source, window, args)
        if skipped is not None:
            card["training"]["skipped"] = skipped.for_card()
        by = None if args.no_activate else "python -m app.train"
        # The table read is let go before the version is written (a report still draws it).
        training = training if args.report else None
        version = save_version(registry, model, card, _snapshot(store), activate_by=by)
    card = registry.card(version)
    if args.report:
        assert training is not None  # a report takes the in-memory fit
        from app.cli.report import write_report  # matplotlib, only when a report is asked for

        paths = write_report(args.report, card, select_window(training, window)[0])
        print("report: " + ", ".join(str(p) for p in paths))
    return card


def _store_file(
    store: ListingStore, path: Path, rows: int, mode: Mode, skipped: Skipped | None
) -> Accepted:
    """Store the file as it is, or without the rows that were left out of it."""
    if skipped is None or skipped.count == 0:
        return store.add_file(path, rows, mode)
    return store.add_bytes(without_rows(path, skipped.positions), rows, mode)


def _training_set(store: ListingStore, frame: pd.DataFrame | None, *, append: bool) -> pd.DataFrame:
    """The rows the next fit sees: the store's current set, plus or instead of `frame`."""
    snapshot = store.snapshot()
    stored = store.read(snapshot) if snapshot is not None and (frame is None or append) else None
    if stored is None and frame is None:
        raise ServiceError("the listing store is empty: give a CSV with --data")
    if stored is None:
        assert frame is not None
        return frame
    return stored if frame is None else pd.concat([stored, frame], ignore_index=True)


def _snapshot(store: ListingStore) -> Snapshot:
    snapshot = store.snapshot()
    assert snapshot is not None  # a file was just stored, or the store was read
    return snapshot


def fit_any(
    frame: pd.DataFrame,
    settings: Settings,
    source: str,
    window: int | None,
    args: argparse.Namespace,
) -> tuple[Model, dict[str, Any]]:
    """A located fit where the sales say where they are and `--plain` is not given; else plain.
    Outliers are left out of a located fit as `HOUSE_PRICE_LEAVE_OUT_OUTLIERS` says, unless
    `--keep-outliers`."""
    return fit_prepared(prepare(frame, window, args), settings, source, window, args)


def prepare(
    frame: pd.DataFrame, window: int | None, args: argparse.Namespace
) -> pd.DataFrame | LocatedSales:
    """What `fit_any` fits of a table: its sales as a located fit takes them (the table can
    then be let go), or the table for a plain fit."""
    if not args.plain and located(frame):
        return located_sales(frame, window)
    return frame


def fit_prepared(
    prepared: pd.DataFrame | LocatedSales,
    settings: Settings,
    source: str,
    window: int | None,
    args: argparse.Namespace,
) -> tuple[Model, dict[str, Any]]:
    """`fit_any` of what `prepare` made."""
    folds = settings.cv_folds
    if isinstance(prepared, LocatedSales):
        trim = settings.leave_out_outliers and not args.keep_outliers
        return fit_located_sales(prepared, folds=folds, source=source, trim=trim)
    return fit_table(prepared, folds=folds, source=source, window_days=window)


def located_header(path: Path) -> bool:
    """Whether a CSV's header names an area or coordinates (an unreadable one: no; reading the
    file says what is wrong with it)."""
    try:
        with open(path, "rb") as handle:
            header = {str(c).strip() for c in pd.read_csv(handle, nrows=0).columns}
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        return False
    return bool(header & {AREA, LATITUDE})


def _streams(args: argparse.Namespace, window: int | None) -> bool:
    """Whether to fit from sufficient statistics, a chunk at a time (the default for a file).

    The in-memory fit is kept for what needs the whole table: a training window (sale dates)
    and the report's plots.
    """
    return (
        args.data is not None
        and window is None
        and args.report is None
        and (args.plain or not located_header(args.data))
    )


def _stored_chunks(store: ListingStore, dates: SaleDates, rows: int) -> list[FloatArray]:
    snapshot = store.snapshot()
    return [] if snapshot is None else list(store.chunks(snapshot, rows, dates))


def _progress(chunks: Iterator[FloatArray]) -> Iterator[FloatArray]:
    """Rows read and the rate on stderr, when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield from chunks
        return
    from tqdm import tqdm  # only for the progress bar

    with tqdm(unit=" rows", unit_scale=True, desc="reading") as bar:
        for chunk in chunks:
            bar.update(len(chunk))
            yield chunk
