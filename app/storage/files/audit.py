"""The audit trail as one JSON-lines file, each entry made under one lock with its change.

A change and its entry cannot share a transaction on files, so the entry is written first as an
intent (`INTENT`, with a check that tells whether the change happened), then the change is made,
then the entry is appended and the intent removed, all under one lock. A process that dies
between leaves the intent behind, and the next to take the lock settles it: the check looks at
the files as the change left them (no audited change can have run since, without the lock), and
the entry is appended only if the change happened.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Unpack

from filelock import FileLock

from app.storage.audit import AuditFilter, public
from app.storage.files.durable import append_line, atomic_write, fsync_dir, last_line

LOG = "audit.jsonl"
INTENT = "INTENT"
_TAIL = 1 << 16  # bytes read from the end of the log to find its last entry

# How to tell afterwards whether a change happened: {"exists": path}, {"absent": path},
# {"path": path, "text": text} (the file holds that text), or {"path": path, "status": s}
# (a job file whose status is s). A check may also name the change's last step, a line it
# appends to a JSON-lines file ("then": {"append": path, "line": {...}}): settling a change
# that happened appends that line too, unless it is already the file's last.
Check = dict[str, Any]


class Change:
    """The change being made: `cancel()` when it turns out to change nothing."""

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def happened(check: Check) -> bool:
    """Whether the files show the change the check describes."""
    if "exists" in check:
        return Path(check["exists"]).exists()
    if "absent" in check:
        return not Path(check["absent"]).exists()
    try:
        text = Path(check["path"]).read_text()
    except (FileNotFoundError, NotADirectoryError):
        return False
    if "status" in check:
        try:
            return bool(json.loads(text).get("status") == check["status"])
        except ValueError:
            return False
    return bool(text.strip() == check["text"])


def finish(check: Check) -> None:
    """Make the last step a check names (see `Check`) if a crash came before it."""
    then = check.get("then")
    if then is None:
        return
    path, line = Path(then["append"]), then["line"]
    last = last_line(path)
    with contextlib.suppress(ValueError):
        if last is not None and json.loads(last) == line:
            return
    append_line(path, json.dumps(line).encode())


class FileAudit:
    """`<model_dir>/audit/audit.jsonl`: entries in the order they were made, numbered from 1."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / LOG
        self.intent = root / INTENT
        self._lock = FileLock(str(root / ".lock"))

    @contextlib.contextmanager
    def change(self, entry: dict[str, Any], check: Check) -> Iterator[Change]:
        """Make a change and its entry together."""
        change = Change()
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._settle()
            atomic_write(self.intent, json.dumps({"entry": entry, "check": check}).encode())
            try:
                yield change
            except BaseException:
                if change.cancelled:
                    self._drop_intent()
                else:
                    self._settle()  # cut short: the files say whether it happened
                raise
            if not change.cancelled:
                self._append(entry)
            self._drop_intent()

    def settle(self) -> None:
        """Complete or drop what a change a process died in left behind."""
        if not self.root.is_dir():
            return
        with self._lock:
            self._settle()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the trail's lock: no audited change starts or ends meanwhile."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            yield

    def page(
        self, limit: int, before: int | None = None, **where: Unpack[AuditFilter]
    ) -> list[dict[str, Any]]:
        wanted = {name: value for name, value in where.items() if value is not None}
        found = []
        for line in reversed(self.all()):
            if before is not None and line["id"] >= before:
                continue
            if any(line.get(name) != value for name, value in wanted.items()):
                continue
            found.append(public(line))
            if len(found) == limit:
                break
        return found

    def all(self) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        with self._lock:
            self._settle()
            return self._read()

    def copy_in(self, entries: list[dict[str, Any]]) -> int:
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._settle()
            present = {line["uid"] for line in self._read()}
            added = [e for e in entries if e["uid"] not in present]
            for entry in added:
                self._append(entry)
        return len(added)

    def _read(self) -> list[dict[str, Any]]:
        try:
            lines = self.log.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        found = []
        for line in lines:
            with contextlib.suppress(ValueError):  # a line cut short by a crash
                found.append(json.loads(line))
        return found

    def _settle(self) -> None:
        """Append the entry of an interrupted change that happened; drop it otherwise."""
        try:
            intent = json.loads(self.intent.read_text())
        except FileNotFoundError:
            return
        except ValueError:
            intent = None
        if intent is not None:
            last = self._last()
            appended = last is not None and last.get("uid") == intent["entry"]["uid"]
            if not appended and happened(intent["check"]):
                finish(intent["check"])
                self._append(intent["entry"])
        self._drop_intent()

    def _drop_intent(self) -> None:
        self.intent.unlink(missing_ok=True)
        fsync_dir(self.root)

    def _last(self) -> dict[str, Any] | None:
        line = last_line(self.log, _TAIL)
        if line is None:
            return None
        try:
            found: dict[str, Any] = json.loads(line)
        except ValueError:
            return None
        return found

    def _append(self, entry: dict[str, Any]) -> None:
        last = self._last()
        line = {"id": (last["id"] + 1) if last else 1, **entry}
        append_line(self.log, json.dumps(line, ensure_ascii=False).encode())


def audited(
    audit: FileAudit | None, entry: dict[str, Any], check: Check
) -> contextlib.AbstractContextManager[Change]:
    """`audit.change(entry, check)`, or the change alone where no trail is kept (a bare
    registry or store made outside a storage)."""
    if audit is None:
        return contextlib.nullcontext(Change())
    return audit.change(entry, check)
