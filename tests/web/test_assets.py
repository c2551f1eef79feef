"""The page's files: read once, versioned by their content, small, and from this service only."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from app import __version__
from app.web.assets import STATIC_DIR, PageAssets

BUDGET_BYTES = 150_000


def test_the_page_and_all_its_assets_weigh_under_150_kb() -> None:
    assets = PageAssets(0.9)
    assert assets.total_bytes == len(assets.html.body) + sum(
        len(a.body) for a in assets.files.values()
    )
    assert assets.total_bytes < BUDGET_BYTES, assets.total_bytes


def test_the_tag_names_the_package_version() -> None:
    assert PageAssets(0.9).tag.startswith(f"{__version__}-")


def test_changing_any_file_changes_the_tag_and_so_every_url(tmp_path: Path) -> None:
    copy = tmp_path / "static"
    shutil.copytree(STATIC_DIR, copy)
    before = PageAssets(0.9, copy)
    (copy / "format.js").write_text((copy / "format.js").read_text() + "\n// changed\n")
    after = PageAssets(0.9, copy)
    assert after.tag != before.tag
    assert after.prefix in after.html.body.decode()
    assert before.prefix not in after.html.body.decode()


def test_the_same_files_give_the_same_tag(tmp_path: Path) -> None:
    shutil.copytree(STATIC_DIR, tmp_path / "static")
    assert PageAssets(0.9, tmp_path / "static").tag == PageAssets(0.9).tag


def test_the_html_carries_the_service_default_level() -> None:
    html = PageAssets(0.8).html.body.decode()
    assert 'data-default-level="0.8"' in html
    assert re.search(r'id="level"[^>]*value="80"', html, re.S)
    assert "{{" not in html


def test_no_asset_names_another_origin() -> None:
    assets = PageAssets(0.9)
    texts = [assets.html.body.decode()] + [a.body.decode() for a in assets.files.values()]
    for text in texts:
        # The SVG namespace is a name, not something fetched.
        origins = set(re.findall(r"https?://[^\s\"'`)]+", text)) - {"http://www.w3.org/2000/svg"}
        assert not origins, origins


def test_every_module_the_page_imports_is_one_of_its_files() -> None:
    assets = PageAssets(0.9)
    for name, asset in assets.files.items():
        if name.endswith(".js"):
            for imported in re.findall(r'from "\./([^"]+)"', asset.body.decode()):
                assert imported in assets.files, f"{name} imports {imported}"


def test_the_html_carries_the_thresholds_the_markets_table_names() -> None:
    from app.service import markets

    html = PageAssets(0.9).html.body.decode()
    assert f'data-poor-percent="{round(markets.POOR_MEDIAN_APE * 100)}"' in html
    assert f'data-old-days="{markets.OLD_SALES_DAYS}"' in html
