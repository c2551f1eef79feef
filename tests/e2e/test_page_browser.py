"""The page at `/` in a real headless Chromium (Playwright), against a real uvicorn server.

Every request the page makes must go to that server: anything else is aborted and fails the
test, as does any error in the page's scripts.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
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
from tests.e2e.server import Server, fitted_dirs
from tests.support import API_KEY, SACRAMENTO

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("page-server")
    with Server(fitted_dirs(folder), log=folder / "server.log") as started:
        yield started


def batch_answer(server: Server, path: Path) -> httpx.Response:
    """`/predict/batch`'s answer to this CSV file, sent as it is."""
    return api(
        server,
        "POST",
        "/predict/batch",
        content=path.read_bytes(),
        headers={"Content-Type": "text/csv"},
    )


def estimate(page: Page, beds: str, baths: str, sqft: str) -> None:
    page.fill("#beds", beds)
    page.fill("#baths", baths)
    page.fill("#sqft", sqft)
    page.click("#estimate-button")


def homes_csv(rows: int, seed: int = 0) -> bytes:
    """Homes with an address column whose values hold commas and quotes (CSV quoting)."""
    rng = np.random.default_rng(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["address", "beds", "baths", "sqft"])
    for i in range(rows):
        writer.writerow(
            [
                f'{i + 1} Oak St, Apt "{i % 7}"',
                int(rng.integers(1, 6)),
                float(rng.integers(2, 8)) / 2,
                int(rng.integers(600, 4000)),
            ]
        )
    return out.getvalue().encode()


def test_the_form_shows_predicts_price_range_and_parts(visit: Visit) -> None:
    page = visit.open()
    estimate(page, "3", "2", "1500")
    expect(page.locator("#answer")).to_be_visible()
    answer = api(visit.server, "POST", "/predict", json={"beds": 3, "baths": 2, "sqft": 1500})
    body = answer.json()
    expect(page.locator("#price")).to_have_text(money(body["price"]))
    assert page.inner_text("#price").startswith("$") and "," in page.inner_text("#price")
    expect(page.locator("#price-low")).to_have_text(money(body["price_low"]))
    expect(page.locator("#price-high")).to_have_text(money(body["price_high"]))
    expect(page.locator("#range-words")).to_have_text(
        "90 % of similar homes sold within this range."
    )
    expect(page.locator("#answer-version")).to_have_text(body["model_version"])
    expect(page.locator("#per-sqft")).to_have_text(f"{money(body['price_per_sqft'])} per sq ft")
    # The bar: the range's band and the estimate's mark, placed in order.
    band = page.locator("#range-band").bounding_box()
    mark = page.locator("#range-mark").bounding_box()
    assert band and mark and band["x"] < mark["x"] < band["x"] + band["width"]
    # The parts: one row each, then the total, which is the price.
    rows = page.locator("#parts tbody tr")
    expect(rows).to_have_count(5)
    parts = body["contributions"]
    for i, name in enumerate(("intercept", "beds", "baths", "sqft")):
        amount = rows.nth(i).locator("td.num").inner_text()
        assert amount.lstrip("+") == money(parts[name]), (name, amount)
        assert rows.nth(i).locator(".part-bar").bounding_box()
    expect(rows.nth(4).locator("td.num")).to_have_text(money(body["price"]))
    assert abs(sum(parts.values()) - body["price"]) < 1e-6
    # The address bar holds the inputs.
    assert page.url.endswith("/?beds=3&baths=2&sqft=1500")


def test_the_chart_plots_the_services_batch_answer_for_a_grid_of_sizes(visit: Visit) -> None:
    page = visit.open()
    with page.expect_request("**/predict/batch**") as sent:
        estimate(page, "3", "2", "1500")
    expect(page.locator("#curve-figure")).to_be_visible()
    posted = sent.value.post_data_json
    assert posted is not None
    grid = posted["listings"]
    assert len(grid) == 41 and {(h["beds"], h["baths"]) for h in grid} == {(3, 2)}
    sizes = [h["sqft"] for h in grid]
    assert sizes == sorted(sizes) and sizes[0] <= 1500 <= sizes[-1]
    answer = api(visit.server, "POST", "/predict/batch", json={"listings": grid}).json()
    first, last = answer["predictions"][0], answer["predictions"][-1]
    description = page.inner_text("#curve-desc")
    assert money(first["price"]) in description and money(last["price"]) in description
    points = page.locator("#curve polyline").get_attribute("points") or ""
    assert len(points.split()) == 41
    expect(page.locator("#curve circle.home")).to_have_count(1)


def test_sqft_zero_shows_the_apis_error_next_to_the_field_and_no_stale_result(
    visit: Visit,
) -> None:
    page = visit.open()
    estimate(page, "3", "2", "1500")
    expect(page.locator("#answer")).to_be_visible()
    page.fill("#sqft", "0")
    page.click("#estimate-button")
    refused = api(visit.server, "POST", "/predict", json={"beds": 3, "baths": 2, "sqft": 0})
    assert refused.status_code == 422
    expect(page.locator("#sqft-error")).to_have_text(refused.json()["detail"][0]["msg"])
    expect(page.locator("#sqft")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#answer")).to_be_hidden()
    expect(page.locator("#curve-figure")).to_be_hidden()
    expect(page.locator("#beds-error")).to_be_hidden()


def test_25_bedrooms_shows_the_apis_error_next_to_bedrooms(visit: Visit) -> None:
    page = visit.open()
    estimate(page, "25", "2", "1500")
    refused = api(visit.server, "POST", "/predict", json={"beds": 25, "baths": 2, "sqft": 1500})
    expect(page.locator("#beds-error")).to_have_text(refused.json()["detail"][0]["msg"])
    expect(page.locator("#answer")).to_be_hidden()
    # Corrected, the error goes and the answer comes.
    page.fill("#beds", "4")
    page.press("#beds", "Enter")
    expect(page.locator("#answer")).to_be_visible()
    expect(page.locator("#beds-error")).to_be_hidden()


def test_reloading_a_shared_url_shows_that_homes_estimate(visit: Visit) -> None:
    page = visit.open("/?beds=4&baths=3&sqft=2400")
    body = api(visit.server, "POST", "/predict", json={"beds": 4, "baths": 3, "sqft": 2400}).json()
    expect(page.locator("#price")).to_have_text(money(body["price"]))
    expect(page.locator("#sqft")).to_have_value("2400")
    page.reload()
    expect(page.locator("#price")).to_have_text(money(body["price"]))
    expect(page.locator("#beds")).to_have_value("4")


def test_the_confidence_control_asks_for_that_level_and_keeps_it_in_the_url(
    visit: Visit,
) -> None:
    page = visit.open()
    page.fill("#level", "95")
    expect(page.locator("#level-value")).to_have_text("95 %")
    estimate(page, "3", "2", "1500")
    body = api(
        visit.server, "POST", "/predict?level=0.95", json={"beds": 3, "baths": 2, "sqft": 1500}
    ).json()
    expect(page.locator("#price-low")).to_have_text(money(body["price_low"]))
    expect(page.locator("#range-words")).to_have_text(
        "95 % of similar homes sold within this range."
    )
    assert page.url.endswith("level=0.95")


def test_each_warning_is_shown_in_words(visit: Visit) -> None:
    page = visit.open("/?beds=12&baths=2&sqft=9000")
    body = api(visit.server, "POST", "/predict", json={"beds": 12, "baths": 2, "sqft": 9000}).json()
    assert len(body["warnings"]) == 2
    items = page.locator("#warnings li")
    expect(items).to_have_count(2)
    for item, warning in zip(items.all(), body["warnings"], strict=True):
        assert warning["message"].lower() in item.inner_text().lower()


def test_a_csv_of_1000_rows_is_previewed_and_its_download_is_the_batch_answer(
    visit: Visit, tmp_path: Path
) -> None:
    path = tmp_path / "homes.csv"
    path.write_bytes(homes_csv(1000))
    page = visit.open()
    page.set_input_files("#csv-file", str(path))
    expect(page.locator("#list-status")).to_have_text("homes.csv: 1,000 homes estimated.")
    expect(page.locator("#preview-caption")).to_have_text("The first 10 of 1,000 homes")
    rows = page.locator("#preview tbody tr")
    expect(rows).to_have_count(10)
    answer = batch_answer(visit.server, path)
    first = next(csv.DictReader(io.StringIO(answer.text)))
    cells = rows.first.locator("td").all_inner_texts()
    assert cells[0] == '1 Oak St, Apt "0"'
    assert money(float(first["price"])) in cells
    assert money(float(first["price_high"])) in cells
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "homes-estimates.csv"
    assert Path(download.value.path()).read_bytes() == answer.content


def test_a_csv_of_100000_rows_works(visit: Visit, tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_bytes(homes_csv(100_000, seed=1))
    page = visit.open()
    started = time.perf_counter()
    page.set_input_files("#csv-file", str(path))
    expect(page.locator("#list-status")).to_have_text(
        "many.csv: 100,000 homes estimated.", timeout=60_000
    )
    shown = time.perf_counter() - started
    with page.expect_download() as download:
        page.click("#download")
    answer = batch_answer(visit.server, path)
    assert Path(download.value.path()).read_bytes() == answer.content
    print(f"100,000 rows ({path.stat().st_size:,} bytes): preview and count in {shown:.2f} s")


def test_a_csv_dropped_on_the_box_is_checked_like_a_chosen_one(visit: Visit) -> None:
    page = visit.open()
    text = homes_csv(25).decode()
    dropped = page.evaluate_handle(
        """(text) => {
            const data = new DataTransfer();
            data.items.add(new File([text], 'dropped.csv', { type: 'text/csv' }));
            return data;
        }""",
        text,
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
    expect(page.locator("#list-status")).to_have_text("dropped.csv: 25 homes estimated.")
    expect(page.locator("#preview tbody tr")).to_have_count(10)


def test_bad_rows_are_listed_with_their_line_numbers_and_nothing_is_offered(
    visit: Visit, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("beds,baths,sqft\n3,2,1500\n3,2,-5\n2,x,800\n")
    page = visit.open()
    page.set_input_files("#csv-file", str(path))
    errors = page.locator("#list-errors li")
    expect(errors).to_have_count(2)
    expect(errors.first).to_contain_text("line 3, column sqft")
    expect(errors.nth(1)).to_contain_text("line 4, column baths")
    expect(page.locator("#download-row")).to_be_hidden()
    expect(page.locator("#preview-wrap")).to_be_hidden()


def test_without_the_key_the_controls_say_a_key_is_needed(visit: Visit) -> None:
    page = visit.open()
    expect(page.locator("#key-needed")).to_be_visible()
    expect(page.locator("#key-needed")).to_contain_text("An API key is needed")
    expect(page.locator("#retrain-button")).to_be_disabled()
    expect(page.locator("#sales-file")).to_be_disabled()
    for button in page.locator("button.activate").all():
        expect(button).to_be_disabled()
    # The card and the versions need no key.
    card = api(visit.server, "GET", "/model").json()
    expect(page.locator("#card dl")).to_contain_text(f"{card['training']['rows']:,} sales, ")


def sales_csv(rows: int) -> bytes:
    """The first sales of the bundled data, dated in October 2026."""
    lines = SACRAMENTO.read_text().splitlines()
    header = lines[0].split(",")
    keep = [header.index(c) for c in ("beds", "baths", "sqft", "price")]
    out = ["beds,baths,sqft,price,sold_at"]
    for i, line in enumerate(lines[1 : rows + 1]):
        cells = line.split(",")
        out.append(",".join(cells[k] for k in keep) + f",2026-10-{1 + i % 28:02d}")
    return ("\n".join(out) + "\n").encode()


def test_with_the_key_a_retrain_ends_with_its_reason_and_a_new_version_listed(
    visit: Visit, tmp_path: Path
) -> None:
    before = {v["version"] for v in api(visit.server, "GET", "/models").json()["versions"]}
    path = tmp_path / "sales.csv"
    path.write_bytes(sales_csv(120))
    page = visit.open()
    page.fill("#api-key", API_KEY)
    page.click("#use-key")
    expect(page.locator("#key-needed")).to_be_hidden()
    expect(page.locator("#api-key")).to_have_value("")
    assert page.evaluate("sessionStorage.getItem('house-price-api-key')") == API_KEY
    assert page.evaluate("localStorage.length") == 0
    page.set_input_files("#sales-file", str(path))
    page.check("#force")
    with page.expect_response("**/retrain?**") as sent:
        page.click("#retrain-button")
    location = sent.value.header_value("location")
    assert location and location.startswith("/jobs/")
    job_id = location.removeprefix("/jobs/")
    expect(page.locator("#job-reason")).to_contain_text("Reason: ", timeout=60_000)
    job = api(visit.server, "GET", f"/jobs/{job_id}").json()
    expect(page.locator("#job-status")).to_have_text(
        f"Done: {job['version']} is now active, fitted on {job['n_train']:,} sales."
    )
    expect(page.locator("#job-reason")).to_have_text(f"Reason: {job['reason']}")
    after = api(visit.server, "GET", "/models").json()["versions"]
    new = [v["version"] for v in after if v["version"] not in before]
    assert new == [job["version"]]
    expect(page.locator("#versions tbody th", has_text=job["version"])).to_be_visible()
    # The card now describes the new version, with the dates of the sales it was fitted on.
    expect(page.locator("#card dl")).to_contain_text(job["version"])
    expect(page.locator("#card dl")).to_contain_text("sold 1 Oct 2026 to 28 Oct 2026")
    # The key never went into an address and never reached the log.
    assert API_KEY not in page.url
    log = visit.server.log
    assert log is not None and API_KEY not in log.read_text()


def test_rollback_asks_first_and_then_activates_the_chosen_version(visit: Visit) -> None:
    # A second version to roll back to.
    sent = api(
        visit.server,
        "POST",
        "/retrain?wait=true",
        content=sales_csv(60),
        headers={"Content-Type": "text/csv", "Authorization": f"Bearer {API_KEY}"},
    )
    assert sent.json()["status"] == "succeeded"
    active = api(visit.server, "GET", "/model").json()["version"]
    page = visit.open()
    page.fill("#api-key", API_KEY)
    page.press("#api-key", "Enter")
    target = page.locator("button.activate").first
    version = target.get_attribute("data-version")
    assert version and version != active
    target.click()
    expect(page.locator("#confirm")).to_be_visible()
    expect(page.locator("#confirm-title")).to_have_text(f"Activate {version}?")
    page.click("#confirm-no")
    expect(page.locator("#confirm")).to_be_hidden()
    assert api(visit.server, "GET", "/model").json()["version"] == active
    target.click()
    page.click("#confirm-yes")
    expect(page.locator("#activate-status")).to_have_text(
        f"{version} is now active (it replaced {active})."
    )
    assert api(visit.server, "GET", "/model").json()["version"] == version
    expect(page.locator("#serving")).to_contain_text(version)


def test_older_versions_are_shown_a_page_at_a_time(browser: Browser, tmp_path: Path) -> None:
    from app.storage.files.registry import FileRegistry

    env = fitted_dirs(tmp_path)
    registry = FileRegistry(Path(env["HOUSE_PRICE_MODEL_DIR"]))
    first = registry.active_version() or ""
    for _ in range(24):  # 25 versions: a page of 20, then 5
        registry.save(registry.load(first).model, registry.card(first))
    with Server(env) as server:
        visit = Visit(browser, server)
        try:
            page = visit.open()
            rows = page.locator("#versions tbody tr")
            expect(rows).to_have_count(20)
            expect(page.locator("#versions-status")).to_have_text(
                "20 versions shown, older ones below."
            )
            page.click("#more-versions")
            expect(rows).to_have_count(25)
            expect(page.locator("#more-versions")).to_be_hidden()
            names = rows.locator("th").all_inner_texts()
            assert len(set(names)) == 25 and names[-1] == first
        finally:
            visit.close()
        assert not visit.errors and not visit.foreign


# Every element Tab may stop at, in document order, as the browser decides what is shown.
def test_keyboard_alone_reaches_every_control_in_order_and_enter_estimates(
    visit: Visit,
) -> None:
    page = visit.open()
    # The tables' scrolling regions are named by their text: read the list once it is filled.
    expect(page.locator("#versions tbody tr").first).to_be_visible()
    expect(page.locator("#markets tbody tr").first).to_be_visible()
    expected = page.evaluate(FOCUSABLE)
    top = ["Skip to the estimate", "Estimate", "Check a list", "The model", "Markets", "API docs"]
    assert expected[:9] == [*top, "beds", "baths", "sqft"]
    reached = []
    for _ in range(len(expected)):
        page.keyboard.press("Tab")
        reached.append(page.evaluate(ACTIVE))
    assert reached == expected
    # From the top again, by keyboard only: to Bedrooms, type the home, Enter.
    page.goto(visit.server.url + "/")
    expect(page.locator("#versions tbody tr").first).to_be_visible()
    while page.evaluate(ACTIVE) != "beds":
        page.keyboard.press("Tab")
    page.keyboard.type("3")
    page.keyboard.press("Tab")
    page.keyboard.type("2")
    page.keyboard.press("Tab")
    page.keyboard.type("1500")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowRight")  # Confidence 90 % → 91 %
    page.keyboard.press("Enter")
    body = api(
        visit.server, "POST", "/predict?level=0.91", json={"beds": 3, "baths": 2, "sqft": 1500}
    ).json()
    expect(page.locator("#price")).to_have_text(money(body["price"]))
    expect(page.locator("#price-high")).to_have_text(money(body["price_high"]))


def test_axe_finds_no_serious_or_critical_violations_on_desktop_or_phone(
    visit: Visit, tmp_path: Path
) -> None:
    path = tmp_path / "homes.csv"
    path.write_bytes(homes_csv(20))
    for viewport in (DESKTOP, PHONE):
        page = visit.open("/?beds=12&baths=2&sqft=9000", viewport=viewport)
        expect(page.locator("#curve-figure")).to_be_visible()
        page.set_input_files("#csv-file", str(path))
        expect(page.locator("#preview-wrap")).to_be_visible()
        assert_accessible(page)
        page.fill("#api-key", API_KEY)
        page.click("#use-key")
        page.fill("#sqft", "0")
        page.click("#estimate-button")
        expect(page.locator("#sqft-error")).to_be_visible()
        assert_accessible(page)


def test_screenshots_of_the_desktop_and_phone_layouts(
    visit: Visit, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("page-screenshots")
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = visit.open("/?beds=3&baths=2&sqft=1500", viewport=viewport)
        expect(page.locator("#curve-figure")).to_be_visible()
        # Readable at this width: nothing wider than the screen, no text below 12 px.
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        smallest = page.evaluate(
            """() => Math.min(...[...document.querySelectorAll('body *')]
                 .filter((el) => el.getClientRects().length && el.childNodes.length
                    && [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()))
                 .map((el) => parseFloat(getComputedStyle(el).fontSize)))"""
        )
        assert smallest >= 12, smallest
        shot = folder / f"page-{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        keep_screenshot(shot)
        print(f"{name} layout: {shot}")
