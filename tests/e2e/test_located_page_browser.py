"""The page of a located market (King County) in headless Chromium: where and when in the form,
the comparable sales' grid and drawing, the market's trend, the ratio statistics."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.pages import (
    ACTIVE,
    DESKTOP,
    FOCUSABLE,
    PHONE,
    Visit,
    api,
    assert_accessible,
    keep_screenshot,
    money,
)
from tests.e2e.server import Server
from tests.support import API_KEY

pytestmark = pytest.mark.browser

HOME = {"beds": 3, "baths": 2, "sqft": 1800}
PLACE = {"area": "98122", "latitude": 47.6, "longitude": -122.3}
ADDRESS = "/?" + urlencode({**HOME, **PLACE})
ADJUSTMENTS = ["Bedrooms", "Bathrooms", "Square feet", "Area", "Location", "Time"]
KEYS = ["beds", "baths", "sqft", "area", "location", "time"]


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory, king_county: Path) -> dict[str, str]:
    from app.cli.train import main as train

    folder = tmp_path_factory.mktemp("located-page")
    model_dir, data_dir = folder / "models", folder / "data"
    args = ["--data", str(king_county), "--skip-invalid"]
    assert train([*args, "--model-dir", str(model_dir), "--data-dir", str(data_dir)]) == 0
    return {
        "HOUSE_PRICE_MODEL_DIR": str(model_dir),
        "HOUSE_PRICE_DATA_DIR": str(data_dir),
        "HOUSE_PRICE_API_KEY": API_KEY,
    }


@pytest.fixture(scope="module")
def server(dirs: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("located-log") / "server.log"
    with Server(dirs, log=log) as started:
        yield started


def signed(value: float) -> str:
    return f"+{money(value)}" if round(value) > 0 else money(value)


def answer(server: Server, comps: int = 5, **home: Any) -> dict[str, Any]:
    body = {**HOME, **PLACE, **home}
    response = api(server, "POST", f"/predict?comps={comps}", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def grid_column(page: Page, rank: int) -> list[str]:
    """The cells of the grid's column of comp `rank` (0: the most similar), top to bottom."""
    return list(
        page.evaluate(
            """(rank) => {
              const heads = [...document.querySelector('#comps-grid thead tr').children];
              const at = heads.findIndex((th) => th.querySelector(`[data-rank="${rank}"]`));
              return [...document.querySelectorAll('#comps-grid tbody tr')]
                .filter((tr) => tr.children.length > 1)
                .map((tr) => tr.children[at].textContent);
            }""",
            rank,
        )
    )


def opened(visit: Visit, path: str = ADDRESS, viewport: Any = DESKTOP) -> Page:
    page = visit.open(path, viewport=viewport)
    expect(page.locator("#comps-grid tbody tr").first).to_be_visible()
    return page


def test_the_grid_holds_the_numbers_of_predict_with_five_comps(visit: Visit) -> None:
    page = opened(visit)
    body = answer(visit.server)
    expect(page.locator("#price")).to_have_text(money(body["price"]))
    expect(page.locator("#comps-grid thead button")).to_have_count(5)
    for rank, comp in enumerate(body["comps"]):
        cells = grid_column(page, rank)
        assert cells[0] == money(comp["price"])
        assert cells[2].startswith(f"{comp['distance_km']:.2f} km")
        assert cells[5] == f"{comp['sqft']:,.0f}"
        assert cells[8:14] == [signed(comp["adjustments"][k]) for k in KEYS]
        assert cells[14] == money(comp["adjusted_price"])
    labels = page.locator("#comps-grid tbody th[scope=row]").all_text_contents()
    assert labels[8:] == [*ADJUSTMENTS, "Adjusted price"]
    expect(page.locator("#comps-summary")).to_contain_text(signed(body["contributions"]["comps"]))


def test_every_part_of_a_located_estimate_is_shown_and_they_add_up(visit: Visit) -> None:
    page = opened(visit)
    parts = answer(visit.server)["contributions"]
    amounts = page.locator("#parts tbody tr:not(.sum) td.num").all_text_contents()
    assert amounts == [signed(v) for v in parts.values()]
    assert len(amounts) == 9


def test_the_drawing_places_each_comp_on_the_side_where_it_lies(visit: Visit) -> None:
    page = opened(visit)
    comps = answer(visit.server)["comps"]
    spots = page.locator("#comps-map g.spot")
    expect(spots).to_have_count(5)
    for spot in spots.all():
        comp = comps[int(spot.get_attribute("data-rank") or "")]
        circle = spot.locator("circle")
        x = float(circle.get_attribute("cx") or "") - 150
        y = float(circle.get_attribute("cy") or "") - 150
        east = (comp["longitude"] - PLACE["longitude"]) * math.cos(math.radians(47.6))
        north = comp["latitude"] - PLACE["latitude"]
        if abs(east) * 111 > 0.02:  # farther than a nudge of sales at one place
            assert (x > 0) == (east > 0), (comp, x)
        if abs(north) * 111 > 0.02:
            assert (y < 0) == (north > 0), (comp, y)  # north is up


def test_a_comp_chosen_in_the_grid_is_marked_in_the_drawing_and_back(visit: Visit) -> None:
    page = opened(visit)
    page.click("#comps-grid thead button[data-rank='1']")
    expect(page.locator("#comps-map g.spot[data-rank='1']")).to_have_class("spot chosen")
    expect(page.locator("#comps-map g.chosen")).to_have_count(1)
    page.click("#comps-map g.spot[data-rank='3']")
    expect(page.locator("#comps-grid thead button[data-rank='3']")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator("#comps-grid thead button[data-rank='1']")).to_have_attribute(
        "aria-pressed", "false"
    )
    # By keyboard: the circle has the focus and Enter unmarks it.
    page.focus("#comps-map g.spot[data-rank='3']")
    page.keyboard.press("Enter")
    expect(page.locator("#comps-map g.chosen")).to_have_count(0)
    label = page.locator("#comps-map g.spot[data-rank='3']").get_attribute("aria-label")
    assert label is not None and label.startswith("Comp 4, ")
    assert page.evaluate(ACTIVE) == label  # the focus stays on the circle


@pytest.mark.parametrize(
    ("button", "key", "reverse"),
    [
        ("Distance", "distance_km", False),
        ("Date", "sold_at", True),
        ("Adjusted price", "adjusted_price", False),
    ],
)
def test_the_grid_sorts_by_distance_date_or_adjusted_price(
    visit: Visit, button: str, key: str, reverse: bool
) -> None:
    page = opened(visit)
    comps = answer(visit.server)["comps"]
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.get_by_role("button", name=button, exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    ranks = [
        int(r)
        for r in page.locator("#comps-grid thead button").evaluate_all(
            "(buttons) => buttons.map((b) => b.dataset.rank)"
        )
    ]
    values = [comps[r][key] for r in ranks]
    assert values == sorted(values, reverse=reverse)
    words = page.locator("#comps-words li").all_text_contents()
    assert [w.split(":")[0] for w in words] == [f"Comp {r + 1}" for r in ranks]


def test_each_comp_is_told_in_words(visit: Visit) -> None:
    page = opened(visit)
    comps = answer(visit.server)["comps"]
    words = page.locator("#comps-words li").all_text_contents()
    for comp, text in zip(comps, words, strict=True):
        assert f"sold for {money(comp['price'])}" in text
        assert f"{comp['distance_km']:.2f} km" in text
        assert "Adjusted to this home" in text and money(comp["adjusted_price"]) in text


def test_the_trend_equals_the_cards_index_and_says_how_prices_moved(visit: Visit) -> None:
    page = opened(visit)
    index = api(visit.server, "GET", "/model").json()["terms"]["time"]["index"]
    levels = page.locator("#trend-table td[data-level]").evaluate_all(
        "(cells) => cells.map((c) => Number(c.dataset.level))"
    )
    assert levels == [m["level"] for m in index]
    rate = index[-1]["level"] / index[-13]["level"] - 1
    expect(page.locator("#trend-desc")).to_contain_text(
        f"Prices in this market {'rose' if rate > 0 else 'fell'} {abs(rate) * 100:.1f} % over "
        "the last 12 months"
    )
    # The valuation month is marked: the newest by default, the month of as_of when given.
    expect(page.locator("#trend-table tr.valued th")).to_have_text("May 2015")
    page.fill("#as_of", "2014-11-20")
    page.click("#estimate-button")
    expect(page.locator("#trend-table tr.valued th")).to_have_text("Nov 2014")
    expect(page.locator("#trend-desc")).to_contain_text("valued as of Nov 2014")


def test_a_shared_address_reloads_the_same_estimate_and_comps(visit: Visit) -> None:
    page = visit.open()
    expect(page.locator("#place-fields")).to_be_visible()
    for field, value in {**HOME, **PLACE, "as_of": "2015-01-15", "comps": 3}.items():
        page.fill(f"#{field}", str(value))
    page.click("#estimate-button")
    expect(page.locator("#comps-grid thead button")).to_have_count(3)
    price = page.locator("#price").text_content()
    assert "as_of=2015-01-15" in page.url and "comps=3" in page.url and "area=98122" in page.url
    body = answer(visit.server, comps=3, as_of="2015-01-15")
    assert price == money(body["price"])
    again = visit.open(page.url.removeprefix(visit.server.url))
    expect(again.locator("#price")).to_have_text(price or "")
    expect(again.locator("#comps-grid thead button")).to_have_count(3)
    assert grid_column(again, 0)[14] == money(body["comps"][0]["adjusted_price"])


def test_the_area_field_offers_the_markets_areas_as_one_types(visit: Visit) -> None:
    page = visit.open()
    page.fill("#area", "9811")
    expected = api(visit.server, "GET", "/model/areas?contains=9811").json()["areas"]
    assert expected and all(a.startswith("9811") for a in expected)
    options = page.locator("#area-options option")
    expect(options).to_have_count(len(expected))
    assert options.evaluate_all("(os) => os.map((o) => o.value)") == expected


def test_an_error_in_a_place_field_is_shown_beside_it(visit: Visit) -> None:
    page = visit.open(ADDRESS.replace("latitude=47.6", "latitude=95"))
    expect(page.locator("#latitude-error")).to_be_visible()
    expect(page.locator("#latitude")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#answer")).to_be_hidden()


def test_a_home_without_coordinates_is_told_why_it_has_no_comps(visit: Visit) -> None:
    page = visit.open("/?" + urlencode({**HOME, "area": "98122"}))
    expect(page.locator("#comps-none")).to_be_visible()
    expect(page.locator("#comps-shown")).to_be_hidden()
    body = api(visit.server, "POST", "/predict?comps=5", json={**HOME, "area": "98122"}).json()
    assert [w["code"] for w in body["warnings"]] == ["no_comps"]
    expect(page.locator("#comps-none")).to_have_text(
        body["warnings"][0]["message"][:1].upper() + body["warnings"][0]["message"][1:] + "."
    )


def test_a_csv_of_located_homes_shows_each_rows_nearest_comp(visit: Visit, tmp_path: Path) -> None:
    path = tmp_path / "homes.csv"
    path.write_text(
        "beds,baths,sqft,area,latitude,longitude\n"
        "3,2,1800,98122,47.6,-122.3\n4,2.5,2600,98052,47.68,-122.12\n2,1,900,98103,,\n"
    )
    page = visit.open()
    page.set_input_files("#csv-file", str(path))
    expect(page.locator("#preview-wrap")).to_be_visible()
    header = page.locator("#preview thead th").all_text_contents()
    assert header[-1] == "nearest comp" and "warnings" in header
    column = len(header) - 1
    nearest = [
        min(c["distance_km"] for c in answer(visit.server, comps=20)["comps"]),
        min(
            c["distance_km"]
            for c in answer(
                visit.server,
                comps=20,
                beds=4,
                baths=2.5,
                sqft=2600,
                area="98052",
                latitude=47.68,
                longitude=-122.12,
            )["comps"]
        ),
    ]
    rows = page.locator("#preview tbody tr")
    expect(rows.nth(2).locator("td").nth(column)).to_have_text("–")
    for i, km in enumerate(nearest):
        expect(rows.nth(i).locator("td").nth(column)).to_have_text(f"{km:.2f} km")


def test_the_markets_table_shows_cod_and_prd_in_words_beside_the_newest_tenth(
    visit: Visit,
) -> None:
    page = visit.open()
    line = api(visit.server, "GET", "/markets").json()["markets"][0]
    row = page.locator("#markets tbody tr").first
    expect(row.locator("td")).to_have_count(11)
    figures = row.locator("td.num").all_text_contents()
    assert figures[-2] == f"{line['accuracy']['cod']:.1f}uniform"
    assert figures[-1] == f"{line['accuracy']['prd']:.3f}fair"
    newest = page.locator("#markets tbody tr.newest")
    expect(newest.locator("th")).to_have_text("default: newest 10 % of its sales, held out")
    held_out = newest.locator("td.num").all_text_contents()
    assert held_out[0] == f"{line['out_of_time']['median_ape'] * 100:.1f} %"
    assert held_out[-1].startswith(f"{line['out_of_time']['prd']:.3f}")


def test_keyboard_reaches_the_place_fields_in_reading_order(visit: Visit) -> None:
    page = opened(visit)
    order = page.evaluate(FOCUSABLE)
    at = order.index("sqft")
    assert order[at : at + 7] == [
        "sqft",
        "area",
        "latitude",
        "longitude",
        "as_of",
        "comps",
        "level",
    ]
    # The grid's sort buttons, then the drawing's comps, then the grid's own buttons.
    grid = order.index("Similarity")
    spots = [n for n in order if n.startswith("Comp ") and " km " in n]
    assert order.index(spots[0]) > grid
    assert order.index("Comp 1") > order.index(spots[-1])


def test_axe_finds_no_serious_violation_and_the_phone_shows_one_column(visit: Visit) -> None:
    for viewport in (DESKTOP, PHONE):
        page = opened(visit, viewport=viewport)
        expect(page.locator("#trend-figure")).to_be_visible()
        page.click("#comps-grid thead button[data-rank='0']")
        assert_accessible(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def test_screenshots_of_the_located_page(
    visit: Visit, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("located-screenshots")
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = opened(visit, viewport=viewport)
        expect(page.locator("#curve-figure")).to_be_visible()
        shot = folder / f"page-located-{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        keep_screenshot(shot)


def test_with_the_listing_turned_off_the_grid_says_so_and_the_estimate_stands(
    browser: Browser, dirs: dict[str, str], tmp_path: Path
) -> None:
    env = {**dirs, "HOUSE_PRICE_LIST_COMPS": "false"}
    with Server(env, log=tmp_path / "server.log") as quiet:
        visit = Visit(browser, quiet)
        try:
            page = visit.open(ADDRESS)
            expect(page.locator("#comps-none")).to_be_visible()
            expect(page.locator("#comps-none")).to_contain_text("does not list comparable sales")
            expect(page.locator("#comps-shown")).to_be_hidden()
            body = answer(quiet)
            expect(page.locator("#price")).to_have_text(money(body["price"]))
            assert body["comps"] == [] and body["contributions"]["comps"] != 0
        finally:
            visit.close()
        assert not visit.errors and not visit.foreign


def test_the_card_says_how_much_wider_the_range_is_where_comps_are_few(visit: Visit) -> None:
    page = visit.open()
    factors = api(visit.server, "GET", "/model").json()["terms"]["comps"]["range"]["factors"]
    assert factors[0] > factors[-1]
    expect(page.locator("#card")).to_contain_text(
        f"widened ×{factors[0]:.2f} where a home's comps weigh least (few or far), "
        f"×{factors[-1]:.2f} where they weigh most"
    )
