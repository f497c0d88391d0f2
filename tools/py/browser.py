"""Headless Chromium for the browser tests: Debian's `/usr/bin/chromium`
driven by Playwright from PyPI (never a browser Playwright downloads).
Every page gets its own isolated context (its own cookies), and
screenshots land in an artifacts folder the test run keeps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Browsing:
    """A started browser; `page()` opens a page in a fresh context."""

    def __init__(self, browser: Browser, artifacts: Path) -> None:
        self.browser = browser
        self.artifacts = artifacts
        self.downloads = artifacts / "downloads"
        artifacts.mkdir(parents=True, exist_ok=True)

    def page(self, **context: Any) -> Page:
        ctx = self.browser.new_context(accept_downloads=True, **context)
        ctx.set_default_timeout(30_000)
        return ctx.new_page()

    def screenshot(self, page: Page, name: str) -> Path:
        path = self.artifacts / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@contextmanager
def browser_page(artifacts: Path) -> Iterator[Browsing]:
    """Chromium for the block's length; on a failure, a `failed-N.png` of
    every open page."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        browsing = Browsing(browser, artifacts)
        try:
            yield browsing
        except BaseException:
            # What each page showed when the test failed, kept beside the others.
            pages = [page for ctx in browser.contexts for page in ctx.pages]
            for n, page in enumerate(pages):
                try:
                    browsing.screenshot(page, f"failed-{n}")
                except Exception:  # a crashed page has nothing to show
                    pass
            raise
        finally:
            browser.close()
