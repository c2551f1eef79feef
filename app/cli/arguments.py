"""Argument types the commands share."""

from __future__ import annotations

import argparse

from app.domain.markets import NAME_RULE, is_market_name


def market_name(text: str) -> str:
    """A `--market` value: a well-formed market name, or a usage error that says the rule."""
    if not is_market_name(text):
        raise argparse.ArgumentTypeError(f"{text!r} {NAME_RULE}")
    return text
