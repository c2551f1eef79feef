"""The README and the pages in docs/: short enough to read, and every link and path in them real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import ROOT

PAGES = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
# A path in the repository named in code quotes: a top folder the project has, then a plain path.
QUOTED_PATH = re.compile(r"`((?:app|bench|data|deploy|docs|tests|\.ci)/[\w./-]*)`")


def headings(page: Path) -> set[str]:
    """The anchors a Markdown renderer makes of the page's headings (GitHub's rule)."""
    text = FENCE.sub("", page.read_text())
    found = set()
    for line in text.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower().replace("`", "")
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def links(page: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", page.read_text()))


def local(target: str) -> bool:
    return not re.match(r"^[a-z]+:", target)


def missing_files(page: Path) -> list[str]:
    """The page's links to files or folders that do not exist."""
    return [
        target
        for target in links(page)
        if local(target) and target.split("#")[0]
        if not (page.parent / target.split("#")[0]).resolve().exists()
    ]


def missing_headings(page: Path) -> list[str]:
    """The page's links to a section (`page.md#anchor`, `#anchor`) that no heading makes."""
    wrong = []
    for target in links(page):
        if not local(target) or "#" not in target:
            continue
        path, anchor = target.split("#", 1)
        linked = (page.parent / path).resolve() if path else page
        if not linked.is_file() or anchor not in headings(linked):
            wrong.append(target)
    return wrong


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_names_a_file_that_exists(page: Path) -> None:
    assert missing_files(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_to_a_section_names_a_heading_of_its_page(page: Path) -> None:
    assert missing_headings(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_in_code_quotes_exists(page: Path) -> None:
    missing = [p for p in QUOTED_PATH.findall(page.read_text()) if not (ROOT / p).exists()]
    assert missing == []


def test_every_page_in_docs_is_linked_from_the_readme() -> None:
    linked = {(ROOT / t.split("#")[0]).resolve() for t in links(ROOT / "README.md") if local(t)}
    assert [p.name for p in (ROOT / "docs").glob("*.md") if p.resolve() not in linked] == []


def test_the_readme_is_short_enough_to_read_to_the_end() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


def test_a_heading_anchor_drops_punctuation_and_joins_words_with_hyphens(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n## Years of versions: paging and retention\n### `/predict`, fast\n")
    assert headings(page) == {"title", "years-of-versions-paging-and-retention", "predict-fast"}


def test_a_link_to_a_missing_file_or_heading_is_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n## Part\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n[a](other.md#part) [b](gone.md) [c](#nowhere) [d](other.md#whole) [e](#page)\n"
        "[f](https://example.com/x) ![g](other.md)\n```\n[h](in-a-fence.md)\n```\n"
    )
    assert missing_files(page) == ["gone.md"]
    assert missing_headings(page) == ["#nowhere", "other.md#whole"]
