"""The page at `/` in headless Chromium: its weight, how fast it answers, how large a list it takes.

- assets: the HTML and every static file, raw and gzip-compressed (what a browser downloads);
- first estimate: a new tab (empty cache) opening `/?beds=3&baths=2&sqft=1500` until the answer
  is on screen; then a reload with the browser's cache (which asks only for the HTML);
- estimate: pressing Estimate until the new answer is on screen;
- check a list: choosing a CSV of 100,000 (and 1,000,000) homes until its count and preview are
  on screen;
- 5,000 markets: typing a market's name into the chooser until it is offered; sorting the markets
  table by a column (the first time, when every market's card is read, and again);
- a located market (King County where ../shared/data holds it, else synthetic located sales):
  Estimate pressed until the comparable sales' grid and drawing are shown; a CSV of 100,000
  located homes chosen until its preview is shown with each previewed row's nearest comp.

Run: .venv/bin/python -m bench.page  (also part of `make bench`; needs Debian's chromium)
"""

from __future__ import annotations

import gzip
import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np

from app.web.assets import PageAssets
from bench.harness import SACRAMENTO, Row, add_markets, print_table, start_server

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]


def homes(path: Path, rows: int) -> Path:
    rng = np.random.default_rng(0)
    beds = rng.integers(1, 6, rows)
    baths = rng.integers(2, 8, rows) / 2
    sqft = rng.integers(600, 4000, rows)
    lines = "\n".join(f"{b},{h:g},{s}" for b, h, s in zip(beds, baths, sqft, strict=True))
    path.write_text("beds,baths,sqft\n" + lines + "\n")
    return path


# Pressing Estimate, in the page: milliseconds until the answer, then until the chart, is shown.
CLICK = """async (sqft) => {
  const shown = (id) => new Promise((resolve) => {
    const node = document.getElementById(id);
    const watch = new MutationObserver(() => {
      if (!node.hidden) { watch.disconnect(); resolve(performance.now()); }
    });
    watch.observe(node, { attributes: true });
  });
  document.getElementById('sqft').value = String(sqft);
  const start = performance.now();
  const answer = shown('answer');
  const chart = answer.then(() => shown('curve-figure'));
  document.getElementById('estimate-button').click();
  return [(await answer) - start, (await chart) - start];
}"""
ANSWERED = "() => !document.getElementById('answer').hidden"

# In the page: milliseconds from the last key typed to the option naming `name` shown.
TYPED_TO_FOUND = """async (name) => {
  const input = document.getElementById('market-input');
  const list = document.getElementById('market-options');
  input.focus();
  input.value = '';
  const found = new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error(`${name} not found within 10 s`)), 10000);
    const watch = new MutationObserver(() => {
      const hit = [...list.querySelectorAll('[role=option]')].some((o) => o.textContent === name);
      if (hit && !list.hidden) { watch.disconnect(); resolve(performance.now()); }
    });
    watch.observe(list, { childList: true, subtree: true, attributes: true });
  });
  let start = 0;
  for (const c of name) {
    input.value += c;
    start = performance.now();
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }
  return (await found) - start;
}"""
SORTED = """async (column) => {
  const th = document.querySelector(`#markets th[data-sort="${column}"]`);
  const body = document.querySelector('#markets tbody');
  const start = performance.now();
  const done = new Promise((resolve) => {
    const watch = new MutationObserver(() => { watch.disconnect(); resolve(performance.now()); });
    watch.observe(body, { childList: true });
  });
  th.querySelector('button').click();
  return (await done) - start;
}"""


# In the page: whether the list's status says `text`.
COUNTED = "(text) => document.getElementById('list-status').textContent.includes(text)"


def list_seconds(browser: Any, url: str, csv: Path, done: str, text: str) -> float:
    """Seconds from a CSV chosen in a new tab of the page to `done` (given `text`) holding."""
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    expect(page.locator("#versions tbody tr").first).to_be_visible()
    start = time.perf_counter()
    page.set_input_files("#csv-file", str(csv))
    page.wait_for_function(done, arg=text, polling=5, timeout=300_000)
    seconds = time.perf_counter() - start
    context.close()
    return seconds


def measure(row: Row, work: Path) -> None:
    from playwright.sync_api import sync_playwright

    assets = PageAssets(0.9)
    bodies = [assets.html.body] + [a.body for a in assets.files.values()]
    row(
        "page: assets (HTML + static files)",
        f"{sum(map(len, bodies)) / 1000:.1f} KB",
        f"{len(bodies)} files, gzip {sum(len(gzip.compress(b)) for b in bodies) / 1000:.1f} KB;"
        " budget 150 KB",
    )
    chromium = shutil.which("chromium")
    if chromium is None:
        row("page: browser figures", "not measured", "(apt-get install -y chromium)")
        return
    from app.cli.train import main as train

    models, data = work / "models", work / "data"
    train(["--data", str(SACRAMENTO), "--model-dir", str(models), "--data-dir", str(data)])
    env = {"HOUSE_PRICE_MODEL_DIR": str(models), "HOUSE_PRICE_DATA_DIR": str(data)}
    env["HOUSE_PRICE_ACCESS_LOG"] = "false"
    process, url = start_server(env)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
            cold, warm, clicks, cached, loaded = [], [], [], [], []
            for _ in range(5):
                context = browser.new_context()
                page = context.new_page()
                start = time.perf_counter()
                page.goto(f"{url}/?beds=3&baths=2&sqft=1500")
                page.wait_for_function(ANSWERED, polling=5)
                cold.append(time.perf_counter() - start)
                start = time.perf_counter()
                page.reload()
                page.wait_for_function(ANSWERED, polling=5)
                warm.append(time.perf_counter() - start)
                # transferSize is 0 for a file the browser took from its cache.
                sizes = page.evaluate(
                    "performance.getEntriesByType('resource')"
                    ".filter((e) => e.name.includes('/static/page/')).map((e) => e.transferSize)"
                )
                cached.append(sum(1 for size in sizes if size == 0))
                loaded.append(len(sizes))
                page.wait_for_function("() => !document.getElementById('curve-figure').hidden")
                for i in range(20):
                    clicks.append(page.evaluate(CLICK, 1400 + i))
                context.close()
            row(
                "page: open to first estimate, empty cache",
                f"{statistics.median(cold) * 1000:.0f} ms",
                "(median of 5)",
            )
            row(
                "page: reload to estimate, browser cache",
                f"{statistics.median(warm) * 1000:.0f} ms",
                f"(median of 5; static files from the cache: {min(cached)} of {max(loaded)})",
            )
            row(
                "page: Estimate pressed to answer shown",
                f"{statistics.median(c[0] for c in clicks):.1f} ms",
                f"(median of 100; to the chart drawn: "
                f"{statistics.median(c[1] for c in clicks):.1f} ms)",
            )
            for rows in (100_000, 1_000_000):
                csv = homes(work / f"homes-{rows}.csv", rows)
                counted = f"{rows:,} homes estimated"
                times = [
                    list_seconds(browser, url, csv, COUNTED, counted)
                    for _ in range(3 if rows <= 100_000 else 1)
                ]
                row(
                    f"page: check a list of {rows:,} homes",
                    f"{statistics.median(times):.2f} s",
                    f"({csv.stat().st_size / 1e6:.1f} MB; file chosen to count and preview shown"
                    f"{', median of 3' if len(times) == 3 else ''})",
                )
            browser.close()
    finally:
        process.terminate()
        process.wait(10)
    measure_markets(row, work, chromium)
    measure_located(row, work, chromium)


def measure_markets(row: Row, work: Path, chromium: str, count: int = 5000) -> None:
    """The chooser and the markets table with `count` markets besides the default one."""
    from playwright.sync_api import expect, sync_playwright

    from app.cli.train import main as train

    models, data = work / "markets-models", work / "markets-data"
    train(["--data", str(SACRAMENTO), "--model-dir", str(models), "--data-dir", str(data)])
    env = {"HOUSE_PRICE_MODEL_DIR": str(models), "HOUSE_PRICE_DATA_DIR": str(data)}
    seconds = add_markets(env, count, durable=False)
    row(f"page: {count:,} markets stored", f"{seconds:.0f} s", "(set-up, without fsync)")
    env["HOUSE_PRICE_ACCESS_LOG"] = "false"
    process, url = start_server(env)
    rng = np.random.default_rng(3)
    names = [f"m{n:05d}" for n in rng.integers(0, count, 20)]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
            page = browser.new_page()
            page.goto(url)
            expect(page.locator("#markets tbody tr:not(.newest)")).to_have_count(20)
            found = [page.evaluate(TYPED_TO_FOUND, name) for name in names]
            first = page.evaluate(SORTED, "median_ape")
            again = [page.evaluate(SORTED, column) for column in ("within_20", "n_train") * 5]
            browser.close()
    finally:
        process.terminate()
        process.wait(10)
    row(
        f"page: {count:,} markets, name typed to offered",
        f"{statistics.median(found):.1f} ms",
        f"(median of {len(found)}, max {max(found):.1f} ms; every key at once, then a "
        "30 ms pause before asking; target 100 ms)",
    )
    row(
        f"page: {count:,} markets, table sorted by a column",
        f"{first / 1000:.2f} s first",
        f"(every card read once); then {statistics.median(again):.0f} ms (median of {len(again)})",
    )


# Pressing Estimate on a located home: milliseconds until the grid and the drawing of its comps.
CLICK_TO_COMPS = """async (sqft) => {
  const block = document.getElementById('comps-block');
  const shown = new Promise((resolve) => {
    const watch = new MutationObserver(() => {
      const spots = document.querySelectorAll('#comps-map g.spot').length;
      const cells = document.querySelectorAll('#comps-grid tbody tr').length;
      if (!block.hidden && spots && cells) { watch.disconnect(); resolve(performance.now()); }
    });
    watch.observe(block, { attributes: true, childList: true, subtree: true });
  });
  document.getElementById('sqft').value = String(sqft);
  const start = performance.now();
  document.getElementById('estimate-button').click();
  return (await shown) - start;
}"""
PREVIEWED = """(text) => document.getElementById('list-status').textContent.includes(text)
  && !document.getElementById('preview-wrap').hidden
  && [...document.querySelectorAll('#preview tbody td:last-child')]
    .every((td) => td.textContent !== '…')"""


def located_homes(sales: Path, path: Path, rows: int) -> Path:
    """Homes placed where the market's sales are: their areas and coordinates, other sizes."""
    import pandas as pd

    found = pd.read_csv(sales, dtype={"area": str}, usecols=["area", "latitude", "longitude"])
    homes = found.dropna().sample(rows, replace=True, random_state=0).reset_index(drop=True)
    rng = np.random.default_rng(1)
    homes.insert(0, "sqft", rng.integers(600, 4000, rows))
    homes.insert(0, "baths", rng.integers(2, 8, rows) / 2)
    homes.insert(0, "beds", rng.integers(1, 6, rows))
    homes.to_csv(path, index=False)
    return path


def measure_located(row: Row, work: Path, chromium: str, rows: int = 100_000) -> None:
    """A located market's page: the comps under an estimate, a list of located homes."""
    from playwright.sync_api import sync_playwright

    from app.cli.train import main as train
    from bench.located import located_market

    sales, home = located_market(work)
    models, data = work / "located-models", work / "located-data"
    train(
        [
            "--data",
            str(sales),
            "--skip-invalid",
            "--model-dir",
            str(models),
            "--data-dir",
            str(data),
        ]
    )
    env = {"HOUSE_PRICE_MODEL_DIR": str(models), "HOUSE_PRICE_DATA_DIR": str(data)}
    env["HOUSE_PRICE_ACCESS_LOG"] = "false"
    place = json.loads(home)
    csv = located_homes(sales, work / "located-homes.csv", rows)
    process, url = start_server(env)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
            page = browser.new_page()
            page.goto(f"{url}/?{urlencode(place)}")
            page.wait_for_function(ANSWERED, polling=5)
            clicks = [page.evaluate(CLICK_TO_COMPS, 1400 + i) for i in range(100)]
            counted = f"{rows:,} homes estimated"
            times = [list_seconds(browser, url, csv, PREVIEWED, counted) for _ in range(3)]
            browser.close()
    finally:
        process.terminate()
        process.wait(10)
    row(
        f"page: located market ({sales.name}), Estimate pressed to comps' grid and drawing",
        f"{statistics.median(clicks):.1f} ms",
        f"(median of 100, max {max(clicks):.1f} ms; 5 comps; target 100 ms)",
    )
    row(
        f"page: check a list of {rows:,} located homes",
        f"{statistics.median(times):.2f} s",
        f"({csv.stat().st_size / 1e6:.1f} MB; file chosen to preview shown with each row's "
        "nearest comp, median of 3; target 1 s)",
    )


if __name__ == "__main__":
    print_table(measure, "house-price-page-")
