"""The page at `/` in headless Chromium: its weight, how fast it answers, how large a list it takes.

- assets: the HTML and every static file, raw and gzip-compressed (what a browser downloads);
- first estimate: a new tab (empty cache) opening `/?beds=3&baths=2&sqft=1500` until the answer
  is on screen; then a reload with the browser's cache (which asks only for the HTML);
- estimate: pressing Estimate until the new answer is on screen;
- check a list: choosing a CSV of 100,000 (and 1,000,000) homes until its count and preview are
  on screen.

Run: .venv/bin/python -m bench.page  (also part of `make bench`; needs Debian's chromium)
"""

from __future__ import annotations

import gzip
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

from app.web.assets import PageAssets
from bench.harness import SACRAMENTO, Row, print_table, start_server

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


def measure(row: Row, work: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

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
                times = []
                for _ in range(3 if rows <= 100_000 else 1):
                    context = browser.new_context()
                    page = context.new_page()
                    page.goto(url)
                    expect(page.locator("#versions tbody tr").first).to_be_visible()
                    start = time.perf_counter()
                    page.set_input_files("#csv-file", str(csv))
                    page.wait_for_function(
                        "(text) => document.getElementById('list-status')"
                        ".textContent.includes(text)",
                        arg=f"{rows:,} homes estimated",
                        polling=5,
                        timeout=300_000,
                    )
                    times.append(time.perf_counter() - start)
                    context.close()
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


if __name__ == "__main__":
    print_table(measure, "house-price-page-")
