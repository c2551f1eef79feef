"""Comparing texts that hold results of BLAS: every byte but the floats' own, those to a tolerance.

OpenBLAS picks its kernels by CPU (and `OPENBLAS_CORETYPE`), and sums in another order differ in
the last digits. A text written on one machine is held to another's this way: names, order,
strings, integers and formatting byte for byte; each float within a relative tolerance that no
change of method stays within and that any summation order does.
"""

from __future__ import annotations

import math
import re

# One JSON token that matters here: a string (kept as it is) or a number.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?')
RELATIVE = 1e-9


def split_floats(text: str) -> tuple[str, list[float]]:
    """The text with each float (a number with a point or an exponent) as `#`, and the floats."""
    floats: list[float] = []

    def mark(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith('"') or not any(c in token for c in ".eE"):
            return token
        floats.append(float(token))
        return "#"

    return _TOKEN.sub(mark, text), floats


def float_mismatches(found: str, expected: str, relative: float = RELATIVE) -> list[str]:
    """What differs between two JSON texts beyond a float's last digits (empty when nothing).

    Floats within `relative` of each other agree; so do floats within `relative` of zero's
    neighbourhood on the scale of the largest float in the text (a residual mean of 1e-12 is
    summation noise on prices of 1e5, whatever its sign).
    """
    found_text, found_floats = split_floats(found)
    expected_text, expected_floats = split_floats(expected)
    if found_text != expected_text:
        at = next(
            (i for i, (a, b) in enumerate(zip(found_text, expected_text, strict=False)) if a != b),
            min(len(found_text), len(expected_text)),
        )
        return [f"text differs at {at}: {found_text[at - 60 : at + 60]!r}"]
    scale = max((abs(x) for x in expected_floats), default=0.0)
    return [
        f"float {i}: {a!r} != {b!r}"
        for i, (a, b) in enumerate(zip(found_floats, expected_floats, strict=True))
        if not math.isclose(a, b, rel_tol=relative, abs_tol=relative * 1e-6 * scale)
    ]
