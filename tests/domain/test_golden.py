"""Fits and answers equal, byte for byte, those of the release before the fit was made faster.

`golden/fits.json` was written by `answers()` below with that release's code: the model cards
(but for the library versions) and the JSON batch answers of two fits, one from sufficient
statistics in chunks and one in memory. Any change to the numbers a fit or an answer holds, to
the last bit, fails here.
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


def test_fits_and_their_answers_equal_the_former_releases_byte_for_byte() -> None:
    expected = json.loads(GOLDEN.read_text())
    found = answers()
    for kind in ("stream", "table"):
        assert found[kind]["card"] == expected[kind]["card"], kind
        assert found[kind]["batches"] == expected[kind]["batches"], kind


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(answers(), indent=1, sort_keys=True) + "\n")
