"""Markets on the page, in headless Chromium against a real server serving several towns.

The server serves the bundled sales as the default market and three towns of them as markets of
their own: Elk Grove (undated sales), Roseville (sold last month) and Citrus Heights (sold in
2024, so its sales are old).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, expect

from app.config import Settings
from app.domain.fitting import fit_table
from app.domain.listings import read_table
from app.storage import open_storage
from tests.e2e.pages import DESKTOP, PHONE, Visit, api, assert_accessible, keep_screenshot, money
from tests.e2e.server import Server, fitted_dirs
from tests.support import API_KEY, SACRAMENTO

pytestmark = pytest.mark.browser

LAST_MONTH = (dt.date.today() - dt.timedelta(days=30)).isoformat()
TOWNS = {
    "elk-grove": ("ELK_GROVE", None),
    "roseville": ("ROSEVILLE", LAST_MONTH),
    "citrus-heights": ("CITRUS_HEIGHTS", "2024-03-15"),
}
HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}


def town_sales(city: str, sold_at: str | None = None) -> pd.DataFrame:
    sales = read_table(SACRAMENTO)
    town = sales[sales["city"] == city].reset_index(drop=True)
    return town if sold_at is None else town.assign(sold_at=sold_at)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("markets-page-server")
    env = fitted_dirs(folder)
    storage = open_storage(
        Settings(model_dir=env["HOUSE_PRICE_MODEL_DIR"], data_dir=env["HOUSE_PRICE_DATA_DIR"])
    )
    for market, (city, sold_at) in TOWNS.items():
        registry = storage.market(market).registry
        registry.activate(
            registry.save(*fit_table(town_sales(city, sold_at), folds=5, source=city))
        )
    storage.close()
    with Server(env, log=folder / "server.log") as started:
        yield started


def markets(server: Server, query: str = "") -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = api(server, "GET", f"/markets?limit=1000{query}").json()[
        "markets"
    ]
    return lines


def test_the_chooser_finds_a_market_as_you_type_and_keeps_it_in_the_address(
    visit: Visit,
) -> None:
    page = visit.open()
    expect(page.locator("#market-chooser")).to_be_visible()
    expect(page.locator("#market-input")).to_have_value("default")
    page.fill("#market-input", "ro")
    options = page.locator("#market-options [role=option]")
    expect(options).to_have_text(["elk-grove", "roseville"])
    expect(page.locator("#market-input")).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    expect(page.locator("#market-options")).to_be_hidden()
    assert page.url.endswith("/?market=roseville")
    detail = api(visit.server, "GET", "/markets/roseville").json()
    last = dt.date.fromisoformat(LAST_MONTH)
    expect(page.locator("#market-facts")).to_have_text(
        f"roseville: fitted on {detail['n_train']} sales, sold {last.day} "
        f"{last:%b} {last.year} to {last.day} {last:%b} {last.year}."
    )
    # The card, the versions and the page's header follow the chosen market.
    expect(page.locator("#card dl")).to_contain_text(detail["active_version"])
    expect(page.locator("#versions tbody th")).to_have_text([detail["active_version"]])
    expect(page.locator("#serving")).to_contain_text("Serving roseville with model")
    # The address is the choice: a reload keeps it, Back returns to the default market.
    page.reload()
    expect(page.locator("#market-input")).to_have_value("roseville")
    expect(page.locator("#versions tbody th")).to_have_text([detail["active_version"]])
    page.go_back()
    expect(page.locator("#market-input")).to_have_value("default")
    default = api(visit.server, "GET", "/model").json()["version"]
    expect(page.locator("#card dl")).to_contain_text(default)


def test_a_name_no_market_holds_is_said_and_changes_nothing(visit: Visit) -> None:
    page = visit.open("/?market=elk-grove")
    page.fill("#market-input", "ames")
    expect(page.locator("#market-options .more")).to_have_text("No market's name holds “ames”.")
    page.keyboard.press("Enter")
    expect(page.locator("#market-count")).to_have_text("No market named ames is served.")
    page.keyboard.press("Escape")
    expect(page.locator("#market-input")).to_have_value("elk-grove")
    assert page.url.endswith("/?market=elk-grove")


def test_an_address_naming_an_unknown_market_says_so(visit: Visit) -> None:
    page = visit.open("/?market=ames")
    expect(page.locator("#market-facts")).to_have_text(
        "No market named ames is served. Choose another."
    )


def test_estimates_in_the_chosen_market_equal_predict_for_that_market(visit: Visit) -> None:
    page = visit.open("/?market=elk-grove&beds=3&baths=2&sqft=1500")
    body = api(visit.server, "POST", "/predict", json={**HOUSE, "market": "elk-grove"}).json()
    default = api(visit.server, "POST", "/predict", json=HOUSE).json()
    assert body["price"] != default["price"]
    expect(page.locator("#price")).to_have_text(money(body["price"]))
    expect(page.locator("#price-low")).to_have_text(money(body["price_low"]))
    expect(page.locator("#price-high")).to_have_text(money(body["price_high"]))
    expect(page.locator("#answer-version")).to_have_text(f"{body['model_version']} of elk-grove")
    # Choosing another market estimates the same home again in it, chart included.
    with page.expect_request("**/predict/batch?*market=citrus-heights*") as chart:
        page.fill("#market-input", "citrus")
        page.locator("#market-options [role=option]", has_text="citrus-heights").click()
    citrus = api(
        visit.server, "POST", "/predict", json={**HOUSE, "market": "citrus-heights"}
    ).json()
    expect(page.locator("#price")).to_have_text(money(citrus["price"]))
    posted = chart.value.post_data_json
    assert posted is not None and posted["listings"][0]["beds"] == 3
    assert "market=citrus-heights" in page.url and "sqft=1500" in page.url


def test_the_table_shows_what_get_markets_says_in_each_order(visit: Visit) -> None:
    page = visit.open()
    rows = page.locator("#markets tbody tr")
    lines = markets(visit.server)
    expect(rows.locator("th")).to_have_text([m["market"] for m in lines])
    for row, line in zip(rows.all(), lines, strict=True):
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == f"{line['n_train']:,}"
        assert cells[4] == f"{line['accuracy']['median_ape'] * 100:.1f} %"
        assert cells[5] == f"{line['accuracy']['within_10'] * 100:.0f} %"
        assert cells[6] == f"{line['accuracy']['within_20'] * 100:.0f} %"
        assert cells[7] == f"{line['accuracy']['coverage_90'] * 100:.0f} %"
    expect(page.locator("#markets-status")).to_have_text("4 markets; 1–4 shown, by market.")
    # Sorted by a column, then the other way, as the API sorts it.
    header = page.locator('#markets th[data-sort="median_ape"]')
    header.locator("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    by_error = [m["market"] for m in markets(visit.server, "&sort=median_ape")]
    expect(rows.locator("th")).to_have_text(by_error)
    header.locator("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(rows.locator("th")).to_have_text(
        [m["market"] for m in markets(visit.server, "&sort=median_ape&order=desc")]
    )
    assert by_error[0] in ("elk-grove", "roseville")


def test_poor_accuracy_and_old_sales_are_said_in_words(visit: Visit) -> None:
    page = visit.open()
    lines = {m["market"]: m for m in markets(visit.server)}
    status = {
        name: page.locator("#markets tbody tr", has=page.locator("th", has_text=name))
        .locator("td")
        .last.inner_text()
        for name in lines
    }
    assert lines["citrus-heights"]["concerns"] == ["poor_accuracy", "old_sales"]
    assert "Poor accuracy" in status["citrus-heights"] and "Old sales" in status["citrus-heights"]
    assert lines["roseville"]["concerns"] == []
    assert status["roseville"] == "Ready"
    assert status["elk-grove"].splitlines() == ["Ready", "No sale dates"]


def test_choosing_a_market_in_the_table_chooses_it_above(visit: Visit) -> None:
    page = visit.open()
    page.locator("#markets tbody th a", has_text="elk-grove").click()
    expect(page.locator("#market-input")).to_have_value("elk-grove")
    assert page.url.endswith("/?market=elk-grove")
    expect(page.locator("#markets tbody tr.active th")).to_have_text("elk-grove")


def mixed_csv(rows: list[tuple[int, float, int, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["beds", "baths", "sqft", "market"])
    writer.writerows(rows)
    return out.getvalue().encode()


def test_a_csv_naming_markets_is_estimated_row_by_row_in_each(visit: Visit, tmp_path: Path) -> None:
    path = tmp_path / "towns.csv"
    path.write_bytes(
        mixed_csv([(3, 2, 1500, "roseville"), (3, 2, 1500, ""), (4, 3, 2200, "elk-grove")])
    )
    page = visit.open("/?market=citrus-heights")
    page.set_input_files("#csv-file", str(path))
    expect(page.locator("#list-status")).to_have_text(
        "towns.csv: 3 homes estimated, each in its own market."
    )
    versions = {m["market"]: m["active_version"] for m in markets(visit.server)}
    header = page.locator("#preview thead th").all_inner_texts()
    rows = [r.locator("td").all_inner_texts() for r in page.locator("#preview tbody tr").all()]
    table = [dict(zip(header, row, strict=True)) for row in rows]
    assert [r["market"] for r in table] == [
        "roseville",
        "citrus-heights (none given)",
        "elk-grove",
    ]
    assert [r["model_version"] for r in table] == [
        versions["roseville"],
        versions["citrus-heights"],
        versions["elk-grove"],
    ]
    for row, market in zip(table, ("roseville", "citrus-heights", "elk-grove"), strict=True):
        house = {"beds": int(row["beds"]), "baths": float(row["baths"]), "sqft": float(row["sqft"])}
        one = api(visit.server, "POST", "/predict", json={**house, "market": market}).json()
        assert row["price"] == money(one["price"])


def test_rows_naming_an_unknown_market_are_listed_by_line(visit: Visit, tmp_path: Path) -> None:
    path = tmp_path / "towns.csv"
    path.write_bytes(
        mixed_csv([(3, 2, 1500, "roseville"), (3, 2, 1500, "ames"), (2, 1, 900, "davis")])
    )
    page = visit.open()
    page.set_input_files("#csv-file", str(path))
    errors = page.locator("#list-errors li")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("line 3, column market: market 'ames' is not served")
    expect(errors.nth(1)).to_contain_text("line 4, column market: market 'davis' is not served")
    expect(page.locator("#preview-wrap")).to_be_hidden()
    expect(page.locator("#download-row")).to_be_hidden()


def use_key(page: Page) -> None:
    page.fill("#api-key", API_KEY)
    page.click("#use-key")
    expect(page.locator("#key-needed")).to_be_hidden()


def test_starting_and_retiring_a_market_with_the_key(visit: Visit, tmp_path: Path) -> None:
    path = tmp_path / "antelope.csv"
    path.write_bytes(town_sales("ANTELOPE", LAST_MONTH).to_csv(index=False).encode())
    page = visit.open()
    expect(page.locator("#start-button")).to_be_disabled()
    use_key(page)
    # A name that is taken, and a name that cannot be one, are refused before anything is sent.
    page.fill("#start-name", "roseville")
    page.set_input_files("#start-file", str(path))
    page.click("#start-button")
    expect(page.locator("#start-name-error")).to_contain_text("roseville is served already")
    page.fill("#start-name", "Antelope Town")
    page.click("#start-button")
    expect(page.locator("#start-name-error")).to_contain_text("lower-case letters")
    page.fill("#start-name", "antelope")
    with page.expect_response("**/retrain?market=antelope*") as sent:
        page.click("#start-button")
    job_id = (sent.value.header_value("location") or "").removeprefix("/jobs/")
    expect(page.locator("#start-reason")).to_contain_text("Reason: ", timeout=60_000)
    job = api(visit.server, "GET", f"/jobs/{job_id}").json()
    assert job["market"] == "antelope" and job["promoted"]
    expect(page.locator("#start-status")).to_have_text(
        f"Done: {job['version']} is now active in antelope, fitted on {job['n_train']:,} sales."
    )
    # The new market is chosen, listed, and estimates in it are its model's.
    expect(page.locator("#market-input")).to_have_value("antelope")
    assert page.url.endswith("/?market=antelope")
    expect(page.locator("#markets tbody th", has_text="antelope")).to_be_visible()
    detail = api(visit.server, "GET", "/markets/antelope").json()
    assert detail["active_version"] == job["version"]
    # Retiring asks first, naming the market and what becomes of its data.
    page.click("#retire-button")
    expect(page.locator("#confirm-title")).to_have_text("Retire antelope?")
    expect(page.locator("#confirm-text")).to_contain_text("Estimates of antelope stop")
    expect(page.locator("#confirm-text")).to_contain_text(
        "stay stored (nothing is deleted) until an operator removes them with "
        "python -m app.db prune --market antelope"
    )
    page.click("#confirm-no")
    assert api(visit.server, "GET", "/markets/antelope").status_code == 200
    page.click("#retire-button")
    expect(page.locator("#confirm-yes")).to_have_text("Retire antelope")
    page.click("#confirm-yes")
    expect(page.locator("#retire-status")).to_have_text(
        "antelope is retired; the default market is chosen."
    )
    assert api(visit.server, "GET", "/markets/antelope").status_code == 404
    gone = api(visit.server, "POST", "/predict", json={**HOUSE, "market": "antelope"})
    assert gone.status_code == 404
    expect(page.locator("#market-input")).to_have_value("default")
    expect(page.locator("#markets tbody th", has_text="antelope")).to_have_count(0)
    expect(page.locator("#retire-button")).to_be_hidden()


def tab_to(page: Page, script: str, wanted: str, most: int = 200) -> None:
    """Press Tab until `script` says the focus is on `wanted`."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate(script) == wanted:
            return
    raise AssertionError(f"Tab never reached {wanted!r}")


def test_the_keyboard_alone_chooses_a_market(visit: Visit) -> None:
    page = visit.open()
    tab_to(page, "document.activeElement.id", "market-input")
    page.keyboard.type("elk")
    expect(page.locator("#market-options [role=option]")).to_have_text(["elk-grove"])
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#market-facts")).to_contain_text("elk-grove: fitted on")
    # And on through the page to a sort of the table.
    tab_to(page, "document.activeElement.textContent", "Within 20 %")
    page.keyboard.press("Enter")
    expect(page.locator('#markets th[data-sort="within_20"]')).to_have_attribute(
        "aria-sort", "ascending"
    )


def test_axe_finds_nothing_serious_in_the_chooser_and_table_on_desktop_or_phone(
    visit: Visit,
) -> None:
    for viewport in (DESKTOP, PHONE):
        page = visit.open("/?market=elk-grove&beds=3&baths=2&sqft=1500", viewport=viewport)
        expect(page.locator("#markets tbody tr")).to_have_count(4)
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.fill("#market-input", "e")
        expect(page.locator("#market-options")).to_be_visible()
        assert_accessible(page)


def test_screenshots_of_the_chooser_and_the_markets_table(
    visit: Visit, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("markets-screenshots")
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = visit.open("/?market=roseville&beds=3&baths=2&sqft=1500", viewport=viewport)
        expect(page.locator("#curve-figure")).to_be_visible()
        expect(page.locator("#markets tbody tr")).to_have_count(4)
        page.fill("#market-input", "e")
        expect(page.locator("#market-options [role=option]")).to_have_count(4)
        shot = folder / f"markets-{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        keep_screenshot(shot)


def test_with_5000_markets_typing_a_name_finds_it_and_no_long_list_is_loaded(
    browser: Browser, tmp_path: Path
) -> None:
    from bench.harness import add_markets
    from bench.page import TYPED_TO_FOUND

    env = fitted_dirs(tmp_path)
    add_markets(env, 5000, durable=False)
    with Server(env) as server:
        visit = Visit(browser, server)
        asked: list[str] = []
        try:
            page = visit.open()
            page.on("request", lambda r: asked.append(r.url))
            expect(page.locator("#markets-status")).to_have_text(
                "5,001 markets; 1–20 shown, by market."
            )
            times = [page.evaluate(TYPED_TO_FOUND, f"m{n:05d}") for n in (4321, 17, 2999, 4999)]
            page.keyboard.press("ArrowDown")
            page.keyboard.press("Enter")
            expect(page.locator("#market-facts")).to_contain_text("m04999: fitted on 300 sales")
            # The table pages through them in the API's order.
            page.click("#markets-next")
            expect(page.locator("#markets-page")).to_have_text("Page 2 of 251")
            second = api(server, "GET", "/markets?limit=20").json()["next_page_token"]
            lines = api(server, "GET", f"/markets?limit=20&page_token={second}").json()
            expect(page.locator("#markets tbody th")).to_have_text(
                [m["market"] for m in lines["markets"]]
            )
        finally:
            visit.close()
        assert not visit.errors and not visit.foreign
    listed = [url for url in asked if "/markets?" in url]
    assert listed and all("limit=20" in url for url in listed), listed
    print(f"typed to found, 5,000 markets: {', '.join(f'{t:.1f} ms' for t in times)}")
