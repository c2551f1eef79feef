"""Loading an artifact: the model's own classes and plain data only, every earlier format read."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from app.domain.model import PriceModel
from app.storage.artifact import CorruptVersion, RefusedVersion, verified_model
from tests.support import ROOT

FORMATS = ROOT / "tests" / "fixtures" / "artifacts"
VERSION = "v20261205-120000-abcdef"


class Planted:
    """What an attacker pickles: unpickling it calls `call(*args)`."""

    def __init__(self, call: Any, *args: Any) -> None:
        self.call, self.args = call, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.call, self.args


def load(artifact: bytes, card: dict[str, Any] | None = None) -> PriceModel:
    card = {"artifact_format": 6} if card is None else card
    digest = hashlib.sha256(artifact).hexdigest()
    model = verified_model(VERSION, artifact, digest, card, "default").model
    assert isinstance(model, PriceModel)
    return model


@pytest.mark.parametrize(
    ("call", "named"),
    [(os.system, "posix.system"), (eval, "builtins.eval"), (open, "io.open")],
    ids=["os.system", "eval", "open"],
)
def test_an_artifact_naming_a_function_is_refused_before_anything_runs(
    tmp_path: Path, call: Any, named: str
) -> None:
    marker = tmp_path / "planted"
    args = {
        "posix.system": (f"touch {marker}",),
        "builtins.eval": (f"open({str(marker)!r}, 'w')",),
        "io.open": (str(marker), "w"),
    }[named]
    artifact = pickle.dumps(Planted(call, *args), protocol=4)
    with pytest.raises(RefusedVersion) as refused:
        load(artifact)
    assert str(refused.value) == (
        f"model version {VERSION}: refused: the artifact names `{named}`, which no model holds"
    )
    assert not marker.exists()


def test_a_function_hidden_inside_a_model_is_refused(tmp_path: Path) -> None:
    model = load((FORMATS / "format-6" / "model.joblib").read_bytes())
    marker = tmp_path / "planted"
    model.__dict__["ranges"] = Planted(os.system, f"touch {marker}")
    with pytest.raises(RefusedVersion, match=r"`posix\.system`"):
        load(pickle.dumps(model, protocol=4))
    assert not marker.exists()


def test_an_artifact_holding_no_model_is_refused() -> None:
    with pytest.raises(CorruptVersion, match="is not a price model"):
        load(pickle.dumps({"weights": (1.0, 2.0, 3.0)}, protocol=4))


def test_a_damaged_pickle_whose_checksum_matches_is_a_corrupt_version() -> None:
    artifact = (FORMATS / "format-6" / "model.joblib").read_bytes()
    with pytest.raises(CorruptVersion, match="artifact unreadable"):
        load(artifact[: len(artifact) // 2])


@pytest.mark.parametrize("form", [3, 4, 5, 6])
def test_an_artifact_of_every_format_written_since_format_3_loads(form: int) -> None:
    folder = FORMATS / f"format-{form}"
    card = json.loads((folder / "card.json").read_text())
    assert card["artifact_format"] == form
    model = load((folder / "model.joblib").read_bytes(), card)
    explained = model.explain(3, 2, 1500, 0.9)
    weights = [card["coefficients"][name]["value"] for name in ("beds", "baths", "sqft")]
    by_card = card["intercept"] + sum(w * x for w, x in zip(weights, (3, 2, 1500), strict=True))
    assert explained.price == pytest.approx(by_card, rel=1e-12)
    assert 0 < explained.low < explained.price < explained.high
