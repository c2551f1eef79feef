"""Fitting from sufficient statistics, chunk by chunk, gives the in-memory fit's model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold

from app.domain import fitting, listings
from app.domain.errors import BadInput
from app.domain.fitting import fit_stream, fit_table
from app.domain.listings import read_chunks, read_table
from app.domain.streaming import kfold_ids
from tests.support import SACRAMENTO, synthetic_listings


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "sales.csv"
    synthetic_listings(50_000, seed=3).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("chunk_rows", [100, 7_001, 1_000_000])
def test_coefficients_equal_the_in_memory_fit_to_1e_9(big_csv: Path, chunk_rows: int) -> None:
    memory, memory_card = fit_table(read_table(big_csv), folds=5, source="t")
    stream, stream_card = fit_stream(list(read_chunks(big_csv, chunk_rows)), folds=5, source="t")
    np.testing.assert_allclose(stream.weights, memory.weights, rtol=1e-9)
    assert stream.intercept == pytest.approx(memory.intercept, rel=1e-9)
    for name in ("r2", "mae", "rmse", "median_ape"):
        assert stream_card["metrics"]["cv"][name] == pytest.approx(
            memory_card["metrics"]["cv"][name], rel=1e-9
        )
    assert stream_card["training"]["fingerprint"] == memory_card["training"]["fingerprint"]
    assert stream_card["feature_ranges"] == memory_card["feature_ranges"]


def test_the_bundled_data_gives_the_reference_coefficients(sacramento: pd.DataFrame) -> None:
    model, card = fit_stream(list(read_chunks(SACRAMENTO, 250)), folds=5, source="t")
    assert model.weights == pytest.approx((-27035.28, 5342.59, 158.17), abs=0.01)
    assert card["metrics"]["cv"]["r2"] == pytest.approx(0.594, abs=0.0005)
    assert model.explain(3, 2, 1500, 0.9).price == pytest.approx(225312.29, abs=0.01)


@pytest.mark.parametrize("n", [10, 932, 50_001])
def test_folds_are_scikit_learns(n: int) -> None:
    ids = kfold_ids(n, 5, 0)
    for k, (_, test) in enumerate(KFold(5, shuffle=True, random_state=0).split(np.zeros(n))):
        assert np.flatnonzero(ids == k).tolist() == sorted(test.tolist())


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("beds,baths,price\n3,2,1\n")
    with pytest.raises(BadInput, match="lacks the column"):
        list(read_chunks(path, 100))


@pytest.fixture(params=["whole", "in chunks"])
def read_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """read_chunks as it reads a small file (whole, then cut) and a large one (chunk by chunk)."""
    monkeypatch.setattr(listings, "WHOLE_READ_BYTES", 1 << 40 if request.param == "whole" else 0)
    return str(request.param)


def test_a_file_read_whole_gives_the_chunks_a_chunked_read_gives(
    big_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listings, "WHOLE_READ_BYTES", 1 << 40)
    whole = list(read_chunks(big_csv, 7_001))
    monkeypatch.setattr(listings, "WHOLE_READ_BYTES", 0)
    chunked = list(read_chunks(big_csv, 7_001))
    assert [len(c) for c in whole] == [len(c) for c in chunked] == [7_001] * 7 + [993]
    for a, b in zip(whole, chunked, strict=True):
        assert a.tobytes() == b.tobytes()


def test_a_bad_row_in_a_later_chunk_is_named_by_its_line_whether_read_whole_or_in_chunks(
    tmp_path: Path, read_mode: str
) -> None:
    rows = ["beds,baths,sqft,price"] + ["3,2,1500,200000"] * 250 + ["3,2,-1,200000"]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(BadInput) as error:
        list(read_chunks(path, 100))
    assert isinstance(error.value.detail, list)
    assert error.value.detail[0].msg == "line 252, column sqft: must be at least 50, got -1"


def test_a_row_with_more_fields_than_the_header_is_refused_naming_its_line(
    tmp_path: Path, read_mode: str
) -> None:
    path = tmp_path / "shifted.csv"
    path.write_text("beds,baths,sqft,price\n3,2,1500,200000\n3,2,1500,200000,9\n")
    with pytest.raises(BadInput, match="line 3") as error:
        list(read_chunks(path, 100))
    assert "expected 4 fields" in str(error.value.detail).lower()


@pytest.mark.filterwarnings("ignore::pandas.errors.DtypeWarning")  # the mixed column
def test_a_run_of_true_and_false_cells_before_numbers_is_refused_not_read_as_ones_and_zeros(
    tmp_path: Path, read_mode: str
) -> None:
    # pandas reads a long run of booleans as a block of its own, so the column mixes Python
    # bools and ints.
    path = tmp_path / "booleans.csv"
    rows = ["True,2,1500,200000"] * 300_000 + ["3,2,1500,200000"] * 300_000
    path.write_text("beds,baths,sqft,price\n" + "\n".join(rows) + "\n")
    with pytest.raises(BadInput) as error:
        list(read_chunks(path, 1_000_000))
    assert isinstance(error.value.detail, list)
    assert error.value.detail[0].msg == "line 2, column beds: expected a number, got True"


def test_a_large_fit_made_on_one_thread_gives_the_same_model_and_card(
    big_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    beside = fit_stream(list(read_chunks(big_csv, 7_001)), folds=5, source="t")
    monkeypatch.setattr(fitting, "BESIDE_ROWS", 0)  # as a fit of more rows than that is made
    after = fit_stream(list(read_chunks(big_csv, 7_001)), folds=5, source="t")
    assert beside[0] == after[0]
    assert beside[1] == after[1]
