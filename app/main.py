"""What `uvicorn app.main:app` serves: the application of app.api.factory, made when first asked."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Made on first access, not at import: importing this module starts nothing.
    if name == "app":
        from app.api.factory import create_app

        made = globals()["app"] = create_app()
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
