"""A reader's walk through a built copy of minicnn's book, in headless Chromium.

``crawl(site)`` serves the directory on 127.0.0.1, opens ``index.html`` in Debian's Chromium
(driven by Playwright, which downloads nothing: ``executable_path`` points at the system
browser) and follows every internal link, page by page. For each page it records what a
reader would trip over: console errors and uncaught exceptions, images that did not load
(``naturalWidth == 0``), math left untypeset (a ``.math`` element without MathJax's output
inside it, or a MathJax error), links to files or anchors that do not exist, and every
request to another host (aborted, so nothing leaves the machine). tests/docs/test_site.py
runs it on the real book and on a small planted site that must fail.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-quic"]
PAGE_TIMEOUT_MS = 30_000
MATHJAX_TIMEOUT_MS = 20_000


def chromium_path() -> str | None:
    """Debian's Chromium (``MINICNN_CHROMIUM`` overrides), or None."""
    for candidate in (os.environ.get("MINICNN_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@dataclass
class PageReport:
    path: str                     # relative to the site, e.g. "api/functional.html"
    title: str = ""
    console_errors: list = field(default_factory=list)
    broken_images: list = field(default_factory=list)
    math_elements: int = 0
    math_typeset: int = 0
    math_errors: int = 0
    cell_outputs: int = 0
    output_images: int = 0
    ids: set = field(default_factory=set)
    links: list = field(default_factory=list)     # (href as written, resolved URL)


@dataclass
class SiteReport:
    pages: dict = field(default_factory=dict)          # path -> PageReport
    broken_links: list = field(default_factory=list)   # (page, href, why)
    external_requests: list = field(default_factory=list)
    failed_requests: list = field(default_factory=list)
    # requests cancelled by the next navigation (a font still loading) for files that exist
    files_present: set = field(default_factory=set)

    def problems(self) -> list[str]:
        """Everything a reader would trip over, one line each (empty: the site is clean)."""
        lines = []
        for page in self.pages.values():
            lines += [f"{page.path}: console error: {error}" for error in page.console_errors]
            lines += [f"{page.path}: image not loaded: {src}" for src in page.broken_images]
            if page.math_elements and page.math_typeset < page.math_elements:
                lines.append(f"{page.path}: {page.math_elements - page.math_typeset} of "
                             f"{page.math_elements} math elements not typeset")
            if page.math_errors:
                lines.append(f"{page.path}: {page.math_errors} MathJax errors")
        lines += [f"{page}: broken link {href}: {why}" for page, href, why in self.broken_links]
        lines += [f"request to another host: {url}" for url in self.external_requests]
        lines += [f"request failed: {url} ({why})" for url, why in self.failed_requests
                  if not (why == "net::ERR_ABORTED" and url in self.files_present)]
        return lines


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class serve:
    """``with serve(directory) as base_url:`` a static server on 127.0.0.1 (any free port)."""

    def __init__(self, directory):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


_PAGE_FACTS = """() => {
  const maths = Array.from(document.querySelectorAll('.math, span.math, div.math'));
  return {
    title: document.title,
    images: Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]),
    math: maths.length,
    typeset: maths.filter(m => m.querySelector('mjx-container')).length,
    mathErrors: document.querySelectorAll('mjx-merror').length,
    cellOutputs: document.querySelectorAll('.cell_output').length,
    outputImages: document.querySelectorAll('.cell_output img').length,
    ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => [a.getAttribute('href'), a.href]),
  };
}"""


def _is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname == "127.0.0.1"


def open_browser(playwright):
    executable = chromium_path()
    if executable is None:
        raise RuntimeError("no Chromium: apt-get install chromium (or set MINICNN_CHROMIUM)")
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                      headless=True)


def guard_requests(context, report: SiteReport) -> None:
    """Abort and record every request that would leave 127.0.0.1."""
    def route(route_, request):
        if _is_local(request.url):
            route_.continue_()
        else:
            report.external_requests.append(request.url)
            route_.abort()
    context.route("**/*", route)


def crawl(site, *, start="index.html", max_pages=500) -> SiteReport:
    """Open every page reachable from ``start`` and report what a reader would meet."""
    from playwright.sync_api import sync_playwright

    site = Path(site).resolve()
    report = SiteReport()
    with serve(site) as base, sync_playwright() as playwright:
        browser = open_browser(playwright)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        guard_requests(context, report)
        page = context.new_page()
        current: list[PageReport] = []
        page.on("console", lambda message: current and message.type == "error"
                and current[-1].console_errors.append(message.text))
        page.on("pageerror", lambda error: current and current[-1].console_errors.append(
            f"uncaught: {error}"))
        page.on("requestfailed", lambda request: _is_local(request.url)
                and report.failed_requests.append((request.url, request.failure)))
        page.on("response", lambda response: response.status >= 400 and _is_local(response.url)
                and report.failed_requests.append((response.url, f"HTTP {response.status}")))

        queue, seen = [start], {start}
        while queue and len(report.pages) < max_pages:
            path = queue.pop(0)
            facts_page = PageReport(path)
            current.append(facts_page)
            page.goto(base + path, wait_until="load", timeout=PAGE_TIMEOUT_MS)
            if page.locator(".math").count():
                try:
                    page.wait_for_function(
                        "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
                        " && document.querySelectorAll('mjx-container').length > 0",
                        timeout=MATHJAX_TIMEOUT_MS)
                    page.evaluate("() => MathJax.startup.promise")
                except Exception as error:  # reported below as untypeset math
                    facts_page.console_errors.append(f"MathJax did not start: {error}")
            page.evaluate("() => document.fonts.ready.then(() => true)")
            facts = page.evaluate(_PAGE_FACTS)
            facts_page.title = facts["title"]
            facts_page.broken_images = [src for src, complete, width in facts["images"]
                                        if not complete or width == 0]
            facts_page.math_elements = facts["math"]
            facts_page.math_typeset = facts["typeset"]
            facts_page.math_errors = facts["mathErrors"]
            facts_page.cell_outputs = facts["cellOutputs"]
            facts_page.output_images = facts["outputImages"]
            facts_page.ids = set(facts["ids"])
            facts_page.links = [tuple(link) for link in facts["links"]]
            report.pages[path] = facts_page
            for href, absolute in facts_page.links:
                if not absolute.startswith(base):
                    continue
                target = unquote(urldefrag(absolute)[0][len(base):]) or "index.html"
                if target.endswith("/"):
                    target += "index.html"
                if target.endswith(".html") and target not in seen and (site / target).is_file():
                    seen.add(target)
                    queue.append(target)
        browser.close()
    for url, why in report.failed_requests:
        relative = unquote(urldefrag(url)[0].split("/", 3)[-1])
        if why == "net::ERR_ABORTED" and (site / relative).is_file():
            report.files_present.add(url)
    _check_links(site, report)
    return report


def _check_links(site: Path, report: SiteReport) -> None:
    """Every internal link names an existing file, and its #anchor an id on that page."""
    base_len = None
    for page in report.pages.values():
        for href, absolute in page.links:
            parsed = urlparse(absolute)
            if parsed.hostname != "127.0.0.1":
                continue
            if base_len is None:
                base_len = len(f"{parsed.scheme}://{parsed.netloc}/")
            url, fragment = urldefrag(absolute)
            target = unquote(url[base_len:]) or "index.html"
            if target.endswith("/"):
                target += "index.html"
            if not (site / target).is_file():
                report.broken_links.append((page.path, href, f"no file {target}"))
                continue
            if fragment and target.endswith(".html"):
                ids = report.pages[target].ids if target in report.pages else None
                if ids is not None and unquote(fragment) not in ids:
                    report.broken_links.append((page.path, href, f"no #{fragment} in {target}"))


def search(site, query: str) -> list[str]:
    """The result links (site-relative) of the book's search page for ``query``."""
    from playwright.sync_api import sync_playwright

    report = SiteReport()
    with serve(Path(site).resolve()) as base, sync_playwright() as playwright:
        browser = open_browser(playwright)
        context = browser.new_context()
        guard_requests(context, report)
        page = context.new_page()
        page.goto(f"{base}search.html?q={query}", wait_until="load", timeout=PAGE_TIMEOUT_MS)
        page.wait_for_selector("ul.search li a", timeout=PAGE_TIMEOUT_MS)
        page.wait_for_function(
            "() => { const s = document.querySelector('.search-summary');"
            " return s && s.textContent.trim().length > 0; }", timeout=PAGE_TIMEOUT_MS)
        hrefs = page.eval_on_selector_all("ul.search li a", "els => els.map(a => a.href)")
        browser.close()
    if report.external_requests:
        raise AssertionError(f"the search page asked another host: {report.external_requests}")
    return [href[len(base):] for href in hrefs if href.startswith(base)]


def screenshot(site, path: str, out: Path, *, full_page=False) -> Path:
    """A PNG of one page of the site, as a reader's browser shows it."""
    from playwright.sync_api import sync_playwright

    with serve(Path(site).resolve()) as base, sync_playwright() as playwright:
        browser = open_browser(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base + path, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        if page.locator(".math").count():
            page.wait_for_function("() => window.MathJax && MathJax.startup"
                                   " && document.querySelectorAll('mjx-container').length > 0",
                                   timeout=MATHJAX_TIMEOUT_MS)
        page.screenshot(path=str(out), full_page=full_page)
        browser.close()
    return out


def entry_fields(site, path: str, entry_id: str) -> dict:
    """The field names (Parameters, Returns, ...) and text of one API entry, as shown."""
    from playwright.sync_api import sync_playwright

    with serve(Path(site).resolve()) as base, sync_playwright() as playwright:
        browser = open_browser(playwright)
        page = browser.new_page()
        page.goto(base + path, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        facts = page.evaluate("""(id) => {
          const dt = document.getElementById(id);
          if (!dt) return null;
          const dd = dt.nextElementSibling;
          return {signature: dt.innerText,
                  fields: Array.from(dd.querySelectorAll(':scope > dl.field-list > dt'))
                               .map(e => e.textContent.replace(/[:\\s]+$/, '')),
                  text: dd.innerText,
                  math: dd.querySelectorAll('mjx-container').length};
        }""", entry_id)
        browser.close()
    return facts
