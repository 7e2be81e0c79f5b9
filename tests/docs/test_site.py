"""The built book, opened page by page in headless Chromium as a reader would.

Runs when ``MINICNN_DOCS_SITE`` names a built site (``docs/build OUT`` then
``MINICNN_DOCS_SITE=OUT pytest tests/docs``; .ci/run does both); otherwise every test here
skips, so the plain ``pytest`` run neither needs a browser nor spends time building the book.
The crawl (tests/docs/site_crawler.py) starts at index.html and follows every internal link;
nothing may leave 127.0.0.1. The last test plants the faults the crawl must catch in a small
site of its own, so a crawl that sees nothing cannot pass for a clean book.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = os.environ.get("MINICNN_DOCS_SITE")

if not SITE:
    pytest.skip("no built book: set MINICNN_DOCS_SITE to the output of docs/build (e.g. "
                "docs/build /tmp/site && MINICNN_DOCS_SITE=/tmp/site pytest tests/docs)",
                allow_module_level=True)

CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def site() -> Path:
    path = Path(SITE).resolve()
    assert (path / "index.html").is_file(), f"{path} is not a built book (no index.html)"
    pytest.importorskip("playwright", reason="pip install -e \".[test]\" installs playwright")
    from site_crawler import chromium_path
    assert chromium_path(), "no Chromium: apt-get install chromium (.ci/run installs it)"
    return path


@pytest.fixture(scope="module")
def crawled(site):
    from site_crawler import crawl
    return crawl(site)


def test_every_page_loads_clean(crawled):
    """No console error, every image loaded, math typeset, every internal link resolves,
    no request to another host."""
    problems = crawled.problems()
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])


def test_no_request_leaves_the_machine(crawled):
    assert not crawled.external_requests, crawled.external_requests[:10]


def test_the_book_has_at_least_twenty_pages(crawled):
    assert len(crawled.pages) >= 20, sorted(crawled.pages)


def test_ten_notebook_chapters_with_their_outputs(crawled):
    chapters = {path: page for path, page in crawled.pages.items()
                if path.startswith("notebooks/")}
    assert sorted(Path(p).stem for p in chapters) == CHAPTERS
    without = [p for p, page in chapters.items() if page.cell_outputs == 0]
    assert not without, f"chapters without executed outputs: {without}"
    figures = sum(page.output_images for page in chapters.values())
    assert figures >= len(CHAPTERS), f"only {figures} figures in the ten chapters"


def test_math_is_typeset_in_chapters_and_reference(crawled):
    for path in ("notebooks/01_convolution.html", "api/functional.html", "api/optim.html"):
        page = crawled.pages[path]
        assert page.math_elements > 0, f"{path} shows no math"
        assert page.math_typeset == page.math_elements, path


def test_each_chapter_offers_its_notebook_and_colab(crawled):
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    repo = setup["metadata"]["url"].rstrip("/").removeprefix("https://github.com/")
    for stem in CHAPTERS:
        links = [href for href, _ in crawled.pages[f"notebooks/{stem}.html"].links]
        assert f"{stem}.ipynb" in links, f"{stem}: no download link"
        colab = f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{stem}.ipynb"
        assert colab in links, f"{stem}: no Open in Colab link to {colab}"


def test_conv2d_forward_has_its_reference_entry(site):
    from site_crawler import entry_fields
    entry = entry_fields(site, "api/functional.html", "minicnn.functional.conv2d_forward")
    assert entry, "api/functional.html has no entry minicnn.functional.conv2d_forward"
    assert {"Parameters", "Returns"} <= set(entry["fields"]), entry["fields"]
    assert entry["math"] >= 1, "the convolution formula in the docstring is not typeset"


def test_a_guide_links_conv2d_forward_to_its_entry(crawled):
    target = "api/functional.html#minicnn.functional.conv2d_forward"
    linking = [path for path, page in crawled.pages.items() if path.startswith("guides/")
               and any(href.endswith(target.split("/", 1)[1]) for href, _ in page.links)]
    assert linking, "no guide links conv2d_forward to its API entry"


def test_searching_im2col_finds_the_chapter_and_the_api(site):
    from site_crawler import search
    results = search(site, "im2col")
    assert any(r.startswith("notebooks/") for r in results), results
    assert any(r.startswith("api/") for r in results), results


def test_the_crawl_catches_planted_faults(site, tmp_path):
    """A small site with one of each fault: the crawl must report every one."""
    from site_crawler import crawl
    (tmp_path / "index.html").write_text(
        '<html><head><title>planted</title></head><body>'
        '<a href="good.html">good</a> <a href="missing.html">missing</a> '
        '<a href="good.html#nowhere">bad anchor</a>'
        '<img src="https://example.org/remote.png"> <img src="absent.png">'
        '<script>console.error("planted error")</script></body></html>')
    (tmp_path / "good.html").write_text(
        '<html><body><p id="here">fine</p><span class="math">\\(x\\)</span></body></html>')
    problems = "\n".join(crawl(tmp_path).problems())
    for expected in ("broken link missing.html", "no #nowhere in good.html",
                     "request to another host: https://example.org/remote.png",
                     "image not loaded: absent.png", "console error: planted error",
                     "good.html: 1 of 1 math elements not typeset"):
        assert expected in problems, f"the crawl missed: {expected}\n{problems}"
