"""Chromium for the console's browser tests: Debian's binary driven by Playwright for Python.

Playwright's own browser download cannot run here, so the system `chromium` (deps/apt-packages.txt)
is launched by path, once per test session, and each test connects Playwright to it. `Watched` opens a page that records every console
error, uncaught exception, failed request and HTTP error answer, and saves a screenshot of each
page a test visits; `Watched.check()` fails the test on anything recorded.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"


@dataclass
class ChromiumProcess:
    """Debian's chromium, started once per session with a DevTools endpoint to connect to."""

    process: subprocess.Popen[bytes]
    endpoint: str
    """The browser's DevTools WebSocket URL (`ws://127.0.0.1:PORT/devtools/browser/ID`)."""

    def stop(self) -> None:
        """Terminate chromium and wait for it."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_chromium(profile: Path) -> ChromiumProcess:
    """Start the system chromium headless (skip with the reason when it or Playwright is absent).

    Chromium runs as a plain process and each test connects Playwright to it for its own
    duration (`connect`): Playwright's sync API keeps an asyncio loop marked running on the
    thread it was started in, so a driver held for the whole session would break every later
    test in the same worker that runs an event loop of its own.
    """
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium (deps/apt-packages.txt)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            # the suite runs as root in a container, where chromium's sandbox cannot start
            "--no-sandbox",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline().decode(errors="replace")
        if not line and process.poll() is not None:
            break
        seen.append(line)
        found = re.search(r"DevTools listening on (ws://\S+)", line)
        if found:
            # keep draining stderr so chromium never blocks on a full pipe
            threading.Thread(target=_drain, args=(process.stderr,), daemon=True).start()
            return ChromiumProcess(process, found.group(1))
    process.kill()
    process.wait()
    raise RuntimeError("chromium did not open its DevTools endpoint:\n" + "".join(seen[-20:]))


def _drain(stream: IO[bytes]) -> None:
    for _ in iter(lambda: stream.read(65536), b""):
        pass


@contextmanager
def connect(chromium: ChromiumProcess) -> Iterator[Browser]:
    """Playwright connected to the session's chromium for one test, then stopped again."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.connect_over_cdp(chromium.endpoint)
        try:
            yield browser
        finally:
            for context in browser.contexts[1:]:  # the first is chromium's own default context
                context.close()
            browser.close()


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
