"""The service's error classes, each with its HTTP status, and the handler that renders them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


class ServiceError(Exception):
    """An error a client can act on; `detail` is what the client reads."""

    status_code = 500

    def __init__(self, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail
        self.headers = headers


class BadInput(ServiceError):
    """The request's data breaks a rule; the detail names the row and field."""

    status_code = 422


class TooFewRows(BadInput):
    """A training set too small to fit; the detail says how many rows it needs."""

    def __init__(self, needed: int, got: int) -> None:
        super().__init__(
            f"need at least {needed} listings to fit a model, got {got}: send more sales "
            "(mode append adds them to the current training set)"
        )


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    """The request is well formed but the state on disk does not allow it."""

    status_code = 409


class TooLarge(ServiceError):
    status_code = 413


class Unavailable(ServiceError):
    """The shared storage cannot be reached now; the client may try again shortly."""

    status_code = 503

    def __init__(self, detail: Any, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class NotReady(ServiceError):
    """No model can be served (yet)."""

    status_code = 503


def row_error(row: int | str, field: str, msg: str, kind: str = "value_error") -> dict[str, Any]:
    """One entry of a 422 detail list, in FastAPI's shape, for a row of a table."""
    return {"loc": ["body", row, field], "msg": msg, "type": kind}
