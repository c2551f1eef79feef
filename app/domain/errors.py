"""The service's errors in domain terms: what is wrong and what to do, with no HTTP in them.

How each reaches a client over HTTP (its status, headers and answer shape) is one table in
app.api.errors; the commands print the same messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RowError:
    """One bad value of a table: its row (`line N` of a file), its column, and what is wrong."""

    row: int | str
    field: str
    msg: str
    kind: str = "value_error"


class ServiceError(Exception):
    """An error a client can act on: `detail` is a sentence, or the rows and fields at fault."""

    def __init__(self, detail: str | Sequence[RowError]) -> None:
        self.detail: str | list[RowError] = detail if isinstance(detail, str) else list(detail)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The detail as one line: the sentence, or the rows' messages joined."""
        if isinstance(self.detail, str):
            return self.detail
        return "; ".join(error.msg for error in self.detail)


class BadInput(ServiceError):
    """The data breaks a rule; the detail names the row and field."""


class TooFewRows(BadInput):
    """A training set too small to fit; the detail says how many rows it needs."""

    def __init__(self, needed: int, got: int) -> None:
        super().__init__(
            f"need at least {needed} listings to fit a model, got {got}: send more sales "
            "(mode append adds them to the current training set)"
        )


class NotFound(ServiceError):
    """What the request names (a version, job, upload or set) does not exist."""


class Conflict(ServiceError):
    """The request is well formed but the stored state does not allow it."""


class Busy(Conflict):
    """Another process holds what the request needs (a market's fit lock) right now."""


class TooLarge(ServiceError):
    """More rows or bytes than one request may carry."""


class Unavailable(ServiceError):
    """The shared storage cannot be reached now; the client may try again after `retry_after` s."""

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class NotReady(ServiceError):
    """No model can be served (yet)."""
