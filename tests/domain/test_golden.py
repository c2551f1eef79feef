"""Fits and answers equal those of the release that wrote the golden file, on any CPU.

`golden/fits.json` is written by `answers()` below (`python tests/domain/test_golden.py`), only
when a release changes the numbers on purpose (last: the range's spreads moved as little as
needed to keep it from narrowing, instead of raising the dearer band's). It holds the model cards
(but for the library versions) and the JSON batch answers of two fits, one from sufficient
statistics in chunks and one in memory. Their bytes are held as they are but for the floats,
and each float to a relative 1e-9 (`tests.floats`): far below what any change of method moves,
far above what another CPU's BLAS kernels move (sums in another order differ in the 13th digit).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from app.api import encode
from app.domain.fitting import fit_stream, fit_table
from app.domain.listings import read_table
from app.domain.model import PriceModel, explain_many
from tests.floats import float_mismatches
from tests.support import SACRAMENTO, synthetic_listings

GOLDEN = Path(__file__).parent / "golden" / "fits.json"


def houses() -> np.ndarray:
    rng = np.random.default_rng(11)
    return np.column_stack(
        [
            rng.integers(1, 7, 100),
            rng.choice([1.0, 1.5, 2.0, 3.0], 100),
            rng.integers(400, 6000, 100),
        ]
    ).astype(np.float64)


def answer(model: PriceModel, card: dict[str, Any]) -> dict[str, Any]:
    card = {k: v for k, v in card.items() if k != "libraries"}
    X = houses()
    batches = {
        str(level): encode.json_batch("v", level, explain_many(model, X, level), X[:, 2]).decode()
        for level in (0.5, 0.9)
    }
    return {"card": json.loads(json.dumps(card, sort_keys=True)), "batches": batches}


def answers() -> dict[str, Any]:
    frame = synthetic_listings(60_000, seed=5)
    values = frame[["beds", "baths", "sqft", "price"]].to_numpy(dtype=np.float64)
    chunks = [values[i : i + 25_000].copy() for i in range(0, len(values), 25_000)]
    streamed = fit_stream(chunks, folds=5, source="golden")
    in_memory = fit_table(read_table(SACRAMENTO), folds=5, source="golden")
    return {"stream": answer(*streamed), "table": answer(*in_memory)}


def texts(found: dict[str, Any]) -> dict[str, str]:
    """Each card and batch answer as the text it is compared by."""
    out: dict[str, str] = {}
    for kind in ("stream", "table"):
        out[f"{kind} card"] = json.dumps(found[kind]["card"], sort_keys=True)
        for level, body in found[kind]["batches"].items():
            out[f"{kind} batch at {level}"] = body
    return out


def test_fits_and_their_answers_equal_the_former_releases_to_the_last_digits() -> None:
    expected = texts(json.loads(GOLDEN.read_text()))
    found = texts(answers())
    assert found.keys() == expected.keys()
    for name, text in found.items():
        assert float_mismatches(text, expected[name]) == [], name


def test_the_golden_comparison_fails_on_a_float_moved_beyond_the_last_digits() -> None:
    expected = texts(json.loads(GOLDEN.read_text()))["table batch at 0.9"]
    price = json.loads(expected)["predictions"][0]["price"]
    moved = expected.replace(repr(price), repr(price * (1 + 1e-7)), 1)
    renamed = expected.replace('"price_low"', '"price_lo"', 1)
    assert float_mismatches(moved, expected) and float_mismatches(renamed, expected)
    nudged = expected.replace(repr(price), repr(price * (1 + 1e-13)), 1)
    assert float_mismatches(nudged, expected) == []


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(answers(), indent=1, sort_keys=True) + "\n")
