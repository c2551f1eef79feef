"""The offline fitting command: fits, stores, activates; a bad file stops it and writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.train import main
from app.domain.listings import fingerprint
from app.storage.files.registry import FileRegistry as Registry
from app.storage.files.storage import FileStorage
from app.storage.files.store import FileStore as Store
from tests.support import ROOT, SACRAMENTO


def assert_nothing_written(model_dir: Path) -> None:
    """No version, no ACTIVE pointer, no stored listing (the lock file is not data)."""
    assert [p.name for p in model_dir.iterdir()] in ([], [".fit.lock"])
    assert Store(model_dir.parent / "data").snapshot() is None


def run(model_dir: Path, *args: str) -> int:
    data_dir = model_dir.parent / "data"
    return main(["--model-dir", str(model_dir), "--data-dir", str(data_dir), *args])


def test_fits_stores_and_activates_the_bundled_data(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(model_dir, "--data", str(SACRAMENTO), "--plain") == 0
    registry = Registry(model_dir)
    [version] = registry.versions()
    assert registry.active_version() == version
    out = capsys.readouterr().out
    assert f"model version   {version}  (active)" in out
    assert "sqft                  158.17  $ per sq ft" in out
    assert "intercept          58,481.75  $" in out
    assert "R²                 0.594" in out
    assert "rows used       932" in out


def test_sales_with_coordinates_fit_a_located_model_and_print_its_accuracy(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(model_dir, "--data", str(SACRAMENTO)) == 0
    card = Registry(model_dir).card(Registry(model_dir).active_version() or "")
    assert card["kind"] == "located"
    assert card["terms"]["area"]["areas"] == 0  # the file names zip codes `zip`, not `area`
    out = capsys.readouterr().out
    assert "location cells" in out and "5-fold CV" in out


def test_a_file_of_beds_baths_sqft_and_price_fits_the_plain_model(
    model_dir: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text(
        "\n".join(",".join(line.split(",")[:4]) for line in SACRAMENTO.read_text().splitlines())
    )
    assert run(model_dir, "--data", str(plain)) == 0
    registry = Registry(model_dir)
    card = registry.card(registry.active_version() or "")
    assert "kind" not in card
    assert card["coefficients"]["sqft"]["value"] == pytest.approx(158.17, abs=0.005)


def test_no_activate_stores_without_activating(model_dir: Path) -> None:
    assert run(model_dir, "--data", str(SACRAMENTO), "--no-activate") == 0
    registry = Registry(model_dir)
    assert len(registry.versions()) == 1
    assert registry.active_version() is None


def test_if_no_active_does_nothing_when_a_version_is_active(model_dir: Path) -> None:
    run(model_dir, "--data", str(SACRAMENTO))
    assert run(model_dir, "--data", str(SACRAMENTO), "--if-no-active") == 0
    assert len(Registry(model_dir).versions()) == 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("beds,baths,price\n3,2,100\n", "lacks the column(s) sqft"),
        ("beds,baths,sqft,price\n3,2,1500,100\n3,x,1500,100\n", "line 3, column baths"),
        ("beds,baths,sqft,price\n3,2,1500,-100\n", "line 2, column price: must be greater than 0"),
        ("beds,baths,sqft,price\n3,2,0,100\n", "line 2, column sqft: must be at least 50"),
        ("", "the CSV is empty"),
        ("\x00\x01\x02PK\x03\x04", "lacks the column(s)"),
    ],
)
def test_a_bad_file_stops_with_a_message_and_writes_nothing(
    model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    expected: str,
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert run(model_dir, "--data", str(path)) == 2
    assert expected in capsys.readouterr().err
    assert_nothing_written(model_dir)


def test_a_missing_file_stops_with_a_message(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(model_dir, "--data", str(tmp_path / "nope.csv")) == 2
    assert "no such file" in capsys.readouterr().err


def test_runs_as_a_module_with_a_non_zero_exit_on_bad_data(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("beds,baths,sqft,price\n3,2,1500,abc\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.train",
            "--data",
            str(bad),
            "--model-dir",
            str(tmp_path / "m"),
            "--data-dir",
            str(tmp_path / "d"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "line 2, column price: expected a number, got 'abc'" in result.stderr
    assert not (tmp_path / "m").exists()
    assert not (tmp_path / "d").exists()


def test_data_is_imported_into_the_store_and_recorded_in_the_card(model_dir: Path) -> None:
    run(model_dir, "--data", str(SACRAMENTO))
    store = Store(model_dir.parent / "data")
    snapshot = store.snapshot()
    assert snapshot is not None
    card = Registry(model_dir).card(Registry(model_dir).active_version() or "")
    assert card["training"]["set"] == snapshot.set_id
    assert card["training"]["batches"] == list(snapshot.batches)
    assert fingerprint(store.read(snapshot)) == card["training"]["fingerprint"]


def test_append_adds_to_the_training_set_and_a_new_file_replaces_it(
    model_dir: Path, tmp_path: Path
) -> None:
    extra = tmp_path / "extra.csv"
    extra.write_text("beds,baths,sqft,price\n3,2,1500,250000\n4,2,2000,320000\n")
    run(model_dir, "--data", str(SACRAMENTO))
    run(model_dir, "--data", str(extra), "--append")
    registry = Registry(model_dir)
    assert registry.card(registry.active_version() or "")["training"]["rows"] == 934
    run(model_dir, "--data", str(SACRAMENTO))
    assert registry.card(registry.active_version() or "")["training"]["rows"] == 932


def test_window_days_fits_on_recent_sales_only(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "dated.csv"
    rows = ["beds,baths,sqft,price,sold_at"] + [
        f"{2 + i % 3},{1 + i % 2},{900 + 7 * i},{90000 + 650 * i},"
        f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}"
        for i in range(300)
    ]
    data.write_text("\n".join(rows) + "\n")
    assert run(model_dir, "--data", str(data), "--window-days", "60") == 0
    registry = Registry(model_dir)
    card = registry.card(registry.active_version() or "")
    assert card["training"]["window"]["days"] == 60
    assert card["training"]["rows"] == card["training"]["window"]["rows_in_window"] < 300


def test_a_window_on_undated_data_stops_and_writes_nothing(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(model_dir, "--data", str(SACRAMENTO), "--window-days", "180") == 2
    assert "needs a sold_at column" in capsys.readouterr().err
    registry = Registry(model_dir)
    assert registry.versions() == [] and registry.active_version() is None
    assert Store(model_dir.parent / "data").snapshot() is None


def test_report_writes_the_card_and_a_plot(model_dir: Path, tmp_path: Path) -> None:
    assert run(model_dir, "--data", str(SACRAMENTO), "--report", str(tmp_path / "report")) == 0
    version = Registry(model_dir).active_version()
    card = json.loads((tmp_path / "report" / f"{version}.json").read_text())
    assert card["version"] == version and "interval" in card
    png = (tmp_path / "report" / f"{version}.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


def test_chunked_fit_imports_the_file_and_matches_the_in_memory_fit(
    model_dir: Path, tmp_path: Path
) -> None:
    assert run(model_dir, "--data", str(SACRAMENTO), "--plain", "--chunk-rows", "300") == 0
    registry = Registry(model_dir)
    card = registry.card(registry.active_version() or "")
    assert card["training"]["method"] == "sufficient statistics, read in chunks"
    assert card["training"]["rows"] == 932
    assert card["coefficients"]["sqft"]["value"] == pytest.approx(158.16747658, rel=1e-9)
    store = Store(model_dir.parent / "data")
    snapshot = store.snapshot()
    assert snapshot is not None and card["training"]["batches"] == list(snapshot.batches)
    assert fingerprint(store.read(snapshot)) == card["training"]["fingerprint"]
    assert (store.sets_dir / snapshot.set_id / snapshot.batches[0]).read_bytes() == (
        SACRAMENTO.read_bytes()
    )


def test_chunked_fit_of_a_bad_file_writes_nothing(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("beds,baths,sqft,price\n" + "3,2,1500,200000\n" * 500 + "3,2,1500,0\n")
    assert run(model_dir, "--data", str(bad), "--chunk-rows", "100") == 2
    assert "line 502, column price" in capsys.readouterr().err
    assert Registry(model_dir).versions() == []
    assert Store(model_dir.parent / "data").snapshot() is None


def dated_csv(path: Path, months: range, undated: int = 0) -> Path:
    """Sales dated on the 3rd of each month of 2026 in `months` (some without a date)."""
    rows = ["beds,baths,sqft,price,sold_at"]
    for i, month in enumerate(months):
        for k in range(12):
            when = "" if k < undated else f"2026-{month:02d}-03"
            rows.append(f"{2 + k % 3},{1 + k % 2},{900 + 31 * k + i},{90000 + 900 * k + i},{when}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_card_gives_the_first_and_last_sale_date_of_a_chunked_fit(
    model_dir: Path, tmp_path: Path
) -> None:
    data = dated_csv(tmp_path / "dated.csv", range(2, 7), undated=2)
    assert run(model_dir, "--data", str(data), "--chunk-rows", "7") == 0
    registry = Registry(model_dir)
    sold = registry.card(registry.active_version() or "")["training"]["sold_at"]
    assert sold == {"first": "2026-02-03", "last": "2026-06-03", "rows_with_date": 50}


def test_appended_sales_widen_the_date_range(model_dir: Path, tmp_path: Path) -> None:
    run(model_dir, "--data", str(dated_csv(tmp_path / "a.csv", range(3, 5))))
    run(model_dir, "--data", str(dated_csv(tmp_path / "b.csv", range(8, 10))), "--append")
    registry = Registry(model_dir)
    sold = registry.card(registry.active_version() or "")["training"]["sold_at"]
    assert sold == {"first": "2026-03-03", "last": "2026-09-03", "rows_with_date": 48}


def test_the_in_memory_fit_gives_the_date_range_of_its_window(
    model_dir: Path, tmp_path: Path
) -> None:
    data = dated_csv(tmp_path / "dated.csv", range(1, 7))
    assert run(model_dir, "--data", str(data), "--window-days", "40") == 0
    registry = Registry(model_dir)
    sold = registry.card(registry.active_version() or "")["training"]["sold_at"]
    assert sold == {"first": "2026-05-03", "last": "2026-06-03", "rows_with_date": 24}


def test_undated_sales_have_no_date_range(model_dir: Path) -> None:
    run(model_dir, "--data", str(SACRAMENTO))
    registry = Registry(model_dir)
    assert registry.card(registry.active_version() or "")["training"]["sold_at"] is None


def test_chunked_fit_refuses_a_bad_sale_date_by_line(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "beds,baths,sqft,price,sold_at\n3,2,1500,200000,2026-01-02\n3,2,1500,1,2026-13-40\n"
    )
    assert run(model_dir, "--data", str(bad)) == 2
    assert "line 3, column sold_at" in capsys.readouterr().err
    assert_nothing_written(model_dir)


def test_a_market_is_created_by_its_first_fit_and_holds_it_alone(model_dir: Path) -> None:
    assert run(model_dir, "--data", str(SACRAMENTO), "--market", "sacramento") == 0
    storage = FileStorage(model_dir, model_dir.parent / "data")
    market = storage.market("sacramento")
    [version] = market.registry.versions()
    assert market.registry.active_version() == version
    assert storage.pointers() == {"sacramento": version}
    assert storage.registry.versions() == [] and storage.store.snapshot() is None


def test_a_malformed_market_name_is_a_usage_error(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        run(model_dir, "--data", str(SACRAMENTO), "--market", "Sacramento")
    assert stopped.value.code == 2
    assert "'Sacramento' is not a market name" in capsys.readouterr().err
    assert_nothing_written(model_dir)


@pytest.mark.parametrize("chunk_rows", ["1000000", "100"])
def test_skip_invalid_fits_on_the_good_rows_and_names_the_bad_ones(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], chunk_rows: str
) -> None:
    path = tmp_path / "county.csv"
    good = SACRAMENTO.read_text().splitlines()
    lines = [*good[:150], "33,2,1500,250000", *good[150:], "3,2,1500,-5"]
    path.write_text("\n".join(lines) + "\n")
    assert (
        run(model_dir, "--data", str(path), "--skip-invalid", "--plain", "--chunk-rows", chunk_rows)
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "rows left out   2 rows left out: line 151, column beds: must be at most 20, got 33; "
        "line 935, column price: must be greater than 0, got -5"
    ) in out
    registry = Registry(model_dir)
    card = registry.card(registry.active_version() or "")
    assert card["training"]["rows"] == 932 and card["training"]["skipped"]["rows"] == 2
    assert card["coefficients"]["sqft"]["value"] == pytest.approx(158.16747658, rel=1e-9)
    store = Store(model_dir.parent / "data")
    snapshot = store.snapshot()
    assert snapshot is not None and len(store.read(snapshot)) == 932


def test_without_skip_invalid_a_bad_row_still_refuses_the_file(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "county.csv"
    path.write_text(SACRAMENTO.read_text() + "33,2,1500,250000\n")
    assert run(model_dir, "--data", str(path)) == 2
    assert "line 934, column beds: must be at most 20, got 33" in capsys.readouterr().err
    assert_nothing_written(model_dir)
