"""The storage command: `python -m app.db upgrade` creates or upgrades the database schema,
`copy --to URL` moves a file deployment into a PostgreSQL database, `prune --keep N` removes
old versions, jobs and uploads, and `audit` prints the audit trail (from whichever storage the
settings name)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from app.cli.arguments import market_name
from app.config import Settings
from app.domain.errors import ServiceError
from app.observability.context import acting
from app.service import retention
from app.storage import CorruptVersion, open_storage
from app.storage.artifact import verified_model
from app.storage.audit import ACTIONS
from app.storage.files.storage import FileMarket, FileStorage
from app.storage.postgres.database import redact
from app.storage.postgres.storage import PostgresMarket, PostgresStorage
from app.storage.signing import signer_of


@dataclass
class Copied:
    """What one run of `copy` did: counts of items copied, and of those already there."""

    copied: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, new: bool, n: int = 1) -> None:
        if n:
            target = self.copied if new else self.present
            target[kind] = target.get(kind, 0) + n


def copy(source: FileStorage, target: PostgresStorage) -> Copied:
    """Copy every market's versions, listing sets and uploads, the jobs, then the pointers and
    retirements; safe to run again.

    Each version and each upload goes in one transaction: a copy cut short leaves the target
    with whole items only, and the next run copies what is missing.
    """
    done = Copied()
    target.ensure()
    # The trail first, as it was: the copy's own changes (the pointers) are recorded after it.
    added = target.audit.copy_in(entries := source.audit.all())
    done.count("audit entries", True, added)
    done.count("audit entries", False, len(entries) - added)
    for market in source.markets():
        _copy_market(source.market(market), target.market(market), done)
    for job in source.jobs.all():
        done.count("jobs", target.jobs.insert(job))
    for market in source.markets():
        active = source.market(market).registry.active_version()
        into = target.market(market).registry
        if active is not None and into.active_version() is None:
            into.activate(active, by="python -m app.db copy")
            done.count("active pointer", True)
    for market in source.retired_markets():
        if not target.market(market).retired():
            target.retire(market, by="python -m app.db copy")
            done.count("retired market", True)
    return done


def _copy_market(source: FileMarket, target: PostgresMarket, done: Copied) -> None:
    for version in sorted(source.registry.versions()):
        artifact, expected = source.registry.artifact(version)
        card = source.registry.card(version)
        try:  # its checksum, its signature and what it names, as a worker would load it
            verified_model(version, artifact, expected, card, source.name, source.registry.signer)
        except CorruptVersion as exc:
            raise ServiceError(f"{exc.message}; not copied") from None
        done.count("versions", target.registry.insert(version, artifact, expected, card))
    for set_id in source.store.sets():
        for batch in source.store.batches(set_id):
            path = source.store.batch_path(set_id, batch)
            accepted = target.store.copy_upload(set_id, path)
            done.count("uploads", not accepted.duplicate)
    current = source.store.current_set()
    if current is not None and target.store.current_set() is None:
        target.store.set_current(current)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m app.db", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    upgrade = commands.add_parser("upgrade", help="create or upgrade the database schema")
    upgrade.add_argument("--url", help="the database (default: HOUSE_PRICE_DATABASE_URL)")
    copier = commands.add_parser(
        "copy", help="copy a file deployment (model_dir, data_dir) into a database"
    )
    copier.add_argument("--to", required=True, metavar="URL", help="postgresql://…")
    copier.add_argument("--model-dir", type=Path, help="overrides HOUSE_PRICE_MODEL_DIR")
    copier.add_argument("--data-dir", type=Path, help="overrides HOUSE_PRICE_DATA_DIR")
    pruner = commands.add_parser(
        "prune",
        help="remove versions beyond the newest N (never the active one, the one it replaced, "
        "or one marked kept), old finished jobs and, with --listings, unused uploads",
    )
    pruner.add_argument("--keep", type=int, required=True, metavar="N", help="versions to keep")
    pruner.add_argument(
        "--jobs-days", type=float, metavar="D", help="remove jobs finished more than D days ago"
    )
    pruner.add_argument(
        "--listings",
        action="store_true",
        help="remove uploads no remaining version was fitted on (not the current set's)",
    )
    pruner.add_argument(
        "--market",
        type=market_name,
        default=None,
        help="the market to prune (default: HOUSE_PRICE_DEFAULT_MARKET); a retired market is "
        "removed whole",
    )
    pruner.add_argument("--yes", action="store_true", help="remove (without it: a dry run)")
    auditor = commands.add_parser(
        "audit", help="print the audit trail, newest first: who changed what, and when"
    )
    auditor.add_argument("--limit", type=int, default=50, metavar="N", help="entries (50)")
    auditor.add_argument("--action", choices=ACTIONS, help="only entries of this action")
    auditor.add_argument("--version", help="only entries about this model version")
    auditor.add_argument("--market", type=market_name, help="only entries of this market")
    auditor.add_argument("--json", action="store_true", help="one JSON object a line")
    args = parser.parse_args(argv)
    if args.command == "prune" and args.keep < 0:
        parser.error("--keep must be 0 or more")
    if args.command == "audit" and args.limit < 1:
        parser.error("--limit must be 1 or more")
    return args


def prune(args: argparse.Namespace, settings: Settings) -> int:
    storage = open_storage(settings)
    try:
        storage.ensure()
        market = args.market or settings.default_market
        chosen = retention.plan(storage, args.keep, args.jobs_days, args.listings, market=market)
        for version, why in sorted(chosen.protected.items(), reverse=True):
            if why != "among the newest":
                print(f"keep    version {version} ({why})")
        items = [
            *([f"retired market {market} (its versions, listings and history)"] * chosen.retired),
            *(f"version {v}" for v in chosen.versions),
            *(f"job {j}" for j in chosen.jobs),
            *(f"upload {s}/{b}" for s, b in chosen.uploads),
        ]
        if not args.yes:
            for item in items:
                print(f"would remove {item}")
            print(f"dry run: {len(items)} to remove; run again with --yes to remove them")
            return 0
        done = retention.carry_out(storage, chosen)
    finally:
        storage.close()
    for item in done.removed:
        print(f"removed {item}")
    for item in done.skipped:
        print(f"skipped {item}")
    print(f"{len(done.removed)} removed, {len(done.skipped)} skipped")
    return 0


def audit(args: argparse.Namespace, settings: Settings) -> int:
    storage = open_storage(settings)
    try:
        found = storage.audit.page(
            args.limit, action=args.action, version=args.version, market=args.market
        )
    finally:
        storage.close()
    for entry in found:
        if args.json:
            print(json.dumps(entry, ensure_ascii=False))
            continue
        detail = " ".join(f"{k}={v}" for k, v in entry["detail"].items() if v is not None)
        print(
            f"{entry['id']:>6} {entry['at']} {entry['action']:<15} {entry['market']} "
            f"{entry['target']} {entry['outcome']} key={entry['key'] or '-'} "
            f"request={entry['request_id'] or '-'} by={entry['by']}"
            + (f" {detail}" if detail else "")
        )
    if not found:
        print("no audit entries", file=sys.stderr)
    return 0


def upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from app.storage.postgres.schema import MIGRATIONS

    url = args.url or (settings.database_url and settings.database_url.get_secret_value())
    if not url:
        print("error: give --url or set HOUSE_PRICE_DATABASE_URL", file=sys.stderr)
        return 2
    storage = PostgresStorage(url, connect_timeout=settings.db_connect_timeout)
    try:
        storage.ensure()
    finally:
        storage.close()
    print(f"{redact(url)}: schema at version {len(MIGRATIONS)}")
    return 0


def copy_command(args: argparse.Namespace, settings: Settings) -> int:
    signer = signer_of(settings)
    source = FileStorage(
        args.model_dir or settings.model_dir, args.data_dir or settings.data_dir, signer
    )
    target = PostgresStorage(args.to, connect_timeout=settings.db_connect_timeout, signer=signer)
    try:
        done = copy(source, target)
    finally:
        target.close()
    print(f"copied into {redact(args.to)}:")
    kinds = ("versions", "uploads", "jobs", "active pointer", "retired market", "audit entries")
    for kind in kinds:
        copied, present = done.copied.get(kind, 0), done.present.get(kind, 0)
        print(f"  {kind:<15}{copied:>6} copied, {present} already there")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = parse_args(argv)
    commands = {"prune": prune, "upgrade": upgrade, "copy": copy_command, "audit": audit}
    command = commands[args.command]
    try:
        with acting(via=f"python -m app.db {args.command}"):
            return command(args, Settings())
    except ServiceError as exc:  # what the data or the database says no to, in one line
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
