"""Unknown query parameters are refused, as unknown body fields are: a typo never goes unnoticed.

`/retrain?markt=ames` would otherwise be accepted with the parameter ignored, and retrain the
default market with another town's sales. The page (`/`) reads its own address and the
documentation pages take none, so only the API's routes (those in the OpenAPI document) check.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


def _declared(route: APIRoute) -> frozenset[str]:
    """Worked out once a route, and kept on it."""
    names: frozenset[str] | None = getattr(route, "_declared_query", None)
    if names is None:
        names = frozenset(_query_names(route.dependant))
        route._declared_query = names  # type: ignore[attr-defined]
    return names


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters of a route and of every dependency it has, by their names."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def refuse_unknown_query(request: Request) -> None:
    """A 422 naming each query parameter the route does not declare."""
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute) or not route.include_in_schema:
        return
    declared = _declared(route)
    unknown = [name for name in request.query_params if name not in declared]
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": f"unknown query parameter {name!r}; this route takes: {known}",
                    "input": request.query_params[name],
                }
                for name in unknown
            ]
        )
