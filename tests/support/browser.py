"""Chromium for the console's browser tests: Debian's binary driven by Playwright for Python.

Playwright's own browser download cannot run here, so the system `chromium` (deps/apt-packages.txt)
is launched by path, once per test session. `Watched` opens a page that records every console
error, uncaught exception, failed request and HTTP error answer, and saves a screenshot of each
page a test visits; `Watched.check()` fails the test on anything recorded.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"


def launch() -> tuple[object, Browser]:
    """Start Playwright and the system chromium (skip with the reason when either is absent)."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium (deps/apt-packages.txt)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    driver = sync_playwright().start()
    # --no-sandbox: the suite runs as root in a container, where chromium's sandbox cannot start
    browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    return driver, browser


def stop(driver: object, browser: Browser) -> None:
    """Close the browser and Playwright."""
    browser.close()
    driver.stop()  # type: ignore[attr-defined]


@dataclass
class Watched:
    """A page in a fresh browser context, with what went wrong in it and its screenshots."""

    page: Page
    shots: Path
    problems: list[str] = field(default_factory=list)
    taken: int = 0
    expected: list[tuple[int, str]] = field(default_factory=list)
    """Error answers the test provokes on purpose, as (status, path); each must happen."""
    happened: list[tuple[int, str]] = field(default_factory=list)

    def expect_error(self, status: int, path: str) -> None:
        """Declare that the next step answers `status` at `path` (an invalid form, say)."""
        self.expected.append((status, path))

    def _answered(self, status: int, url: str) -> None:
        key = (status, urlsplit(url).path)
        if key in self.expected:
            self.happened.append(key)
        else:
            self.problems.append(f"HTTP {status}: {url}")

    def _console(self, kind: str, text: str, url: str) -> None:
        if kind != "error":
            return
        status = re.search(r"status of (\d+)", text)
        if status and (int(status.group(1)), urlsplit(url).path) in self.expected:
            return  # the browser's own report of an answer declared with `expect_error`
        self.problems.append(f"console {kind}: {text} ({url})")

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot as NN-name.png in the test's screenshot folder."""
        self.taken += 1
        path = self.shots / f"{self.taken:02d}-{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def check(self) -> None:
        """Fail on any console error, page error, failed request or HTTP error answer."""
        assert self.problems == [], "\n".join(self.problems)
        assert sorted(set(self.happened)) == sorted(set(self.expected)), "expected errors missing"


def watch(browser: Browser, shots: Path, base_url: str) -> Watched:
    """A new context and page on `base_url`, its listeners attached."""
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    watched = Watched(page, shots)
    problems = watched.problems
    page.on("console", lambda m: watched._console(m.type, m.text, m.location.get("url", "")))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "requestfailed",
        lambda r: problems.append(f"request failed: {r.method} {r.url} {r.failure}"),
    )
    page.on("response", lambda r: watched._answered(r.status, r.url) if r.status >= 400 else None)
    return watched
