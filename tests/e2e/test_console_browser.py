"""The console in a real Chromium against a real `dockwatch serve`: sign in, edit the registry
scanning configuration with a preview and save it, push an image with skopeo and find it in
coverage and on the dashboard, change the re-scan duration past the "will expire" warning, sign
out. Every page fails the test on a console error or a failed request, and each page visited is
saved as a screenshot under the test's temporary folder (`screenshots/`)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.builders.layers import make_image, write_oci_layout
from tests.support.browser import Watched, watch
from tests.support.cli import db_import
from tests.support.servers import PASSWORD, USERNAME, Server, start_dockwatch
from tests.support.skopeo import copy
from tests.unit.api.console.conftest import HTML_PACKAGE, osv, python_layer

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow

ENHANCED_PROD = {
    "scanType": "ENHANCED",
    "rules": [
        {
            "scanFrequency": "CONTINUOUS_SCAN",
            "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}],
        }
    ],
}


def _start(tmp: Path) -> Server:
    """A server with two advisories (a CRITICAL one on a package named with HTML, a HIGH
    one) and an OCI layout holding an image with both packages."""
    server = start_dockwatch(tmp / "data")
    folder = tmp / "osv"
    folder.mkdir()
    for record in (
        osv("PYSEC-7-1", HTML_PACKAGE, "2.0", "CRITICAL"),
        osv("PYSEC-7-2", "plain", "2.0", "HIGH"),
    ):
        (folder / f"{record['id']}.json").write_text(json.dumps(record))
    db_import(server.data, folder)
    image = make_image([python_layer(HTML_PACKAGE, "1.0", "1"), python_layer("plain", "1.0", "2")])
    write_oci_layout(tmp / "layout", [image])
    return server


def _push(server: Server, tmp: Path, repository: str) -> None:
    copy(f"oci:{tmp / 'layout'}:latest", f"docker://{server.host}/{repository}:v1",
         home=tmp / "home", dest_auth=server.auth)  # fmt: skip


def _scanned(c: httpx.Client, repository: str, timeout: float = 120) -> dict[str, Any]:
    """The image's findings once its first scan completed (polled through /api/v1)."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = c.get(f"/api/v1/repositories/{repository}/images/v1/findings").json()
        if body.get("imageScanFindings", {}).get("imageScanCompletedAt"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{repository} not scanned within {timeout}s: {body}")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    tmp = tmp_path_factory.mktemp("console-browser")
    started = _start(tmp)
    yield started, tmp
    started.stop()


@pytest.fixture
def watched(chromium: Browser, server: tuple[Server, Path], tmp_path: Path) -> Iterator[Watched]:
    w = watch(chromium, tmp_path / "screenshots", server[0].url)
    yield w
    w.page.context.close()
    w.check()


def sign_in(w: Watched, target: str = "/console/") -> None:
    """Open `target`, land on the sign-in page, sign in, arrive at `target`."""
    page = w.page
    page.goto(target)
    assert page.url.split("?")[0].endswith("/console/login")
    w.shot("sign-in")
    page.get_by_label("User name").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(target) + "$"))


def test_scanning_configuration_preview_then_save(
    watched: Watched, server: tuple[Server, Path]
) -> None:
    dockwatch, tmp = server
    page = watched.page
    sign_in(watched, "/console/scanning")
    with dockwatch.client() as c:  # a repository to preview against
        assert (
            c.get("/api/v1/registry/scanning-configuration").json()["scanningConfiguration"][
                "scanType"
            ]
            == "BASIC"
        )
    page.get_by_role("radio", name=re.compile("^Enhanced scanning")).check()
    page.get_by_role("radio", name=re.compile("filters below")).check()
    page.get_by_label("Continuous scanning filters").fill("prod-*")
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("heading", name=re.compile("Preview")).wait_for()
    watched.shot("scanning-preview")
    assert "Nothing is saved yet" in page.content()
    with dockwatch.client() as c:
        assert (
            c.get("/api/v1/registry/scanning-configuration").json()["scanningConfiguration"][
                "scanType"
            ]
            == "BASIC"
        )
    # a bad filter is explained next to its field
    page.get_by_label("Scan on push filters").fill("Not Valid")
    watched.expect_error(400, "/console/scanning")
    page.get_by_role("button", name="Save").click()
    error = page.locator("#on_push_filters-error")
    error.wait_for()
    assert "Not Valid" in error.inner_text()
    watched.shot("scanning-error")
    page.get_by_label("Scan on push filters").fill("")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"saved=1$"))
    watched.shot("scanning-saved")
    with dockwatch.client() as c:
        saved = c.get("/api/v1/registry/scanning-configuration").json()["scanningConfiguration"]
    assert saved == ENHANCED_PROD


def test_pushed_image_in_coverage_and_on_the_dashboard(
    watched: Watched, server: tuple[Server, Path]
) -> None:
    dockwatch, tmp = server
    with dockwatch.client() as c:
        assert (
            c.put("/api/v1/registry/scanning-configuration", json=ENHANCED_PROD).status_code == 200
        )
        _push(dockwatch, tmp, "prod-web")
        findings = _scanned(c, "prod-web")["imageScanFindings"]
    counts: dict[str, int] = findings["findingSeverityCounts"]
    assert counts == {"CRITICAL": 1, "HIGH": 1}
    page = watched.page
    sign_in(watched, "/console/coverage")
    row = page.locator("#images tbody tr", has_text="prod-web")
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert cells[0].startswith("v1") and cells[1:3] == ["ACTIVE", "SUCCESSFUL"]
    assert cells[3] != "—" and cells[4] != "—"  # scanned and pushed dates shown
    watched.shot("coverage")
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url(re.compile(r"/console/$"))
    for severity in ("CRITICAL", "HIGH", "MEDIUM"):
        shown = page.locator(f'[data-severity="{severity}"]').inner_text()
        assert int(shown) == counts.get(severity, 0)
    assert int(page.locator('[data-count="covered"]').inner_text()) == 1
    # the package named with HTML is shown as text in the newest critical finding
    newest = page.locator("#newest-critical tbody").inner_text()
    assert HTML_PACKAGE in newest
    assert page.locator("#newest-critical b").count() == 0
    watched.shot("dashboard")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/console/login$"))
    page.goto("/console/settings")
    assert page.url.split("?")[0].endswith("/console/login")  # refused: back to sign-in
    watched.shot("signed-out")


def test_shorter_rescan_duration_warns_then_saves(chromium: Browser, tmp_path: Path) -> None:
    dockwatch = _start(tmp_path)  # a server of its own: this test moves its clock
    w = watch(chromium, tmp_path / "screenshots", dockwatch.url)
    try:
        with dockwatch.client() as c:
            assert (
                c.put("/api/v1/registry/scanning-configuration", json=ENHANCED_PROD).status_code
                == 200
            )
            _push(dockwatch, tmp_path, "prod-old")
            _scanned(c, "prod-old")
            assert c.post("/-/test/clock", json={"advanceSeconds": 10 * 86400}).status_code == 200
        sign_in(w, "/console/settings")
        page = w.page
        page.get_by_label("Push date re-scan duration").select_option("DAYS_7")
        page.get_by_role("button", name="Save").click()
        warning = page.get_by_role("heading", name="1 image will expire now")
        warning.wait_for()
        assert "prod-old@sha256:" in page.content()
        w.shot("settings-will-expire")
        with dockwatch.client() as c:  # not saved before the confirmation
            state = c.get("/api/v1/configuration").json()["ecrConfiguration"]["rescanDurationState"]
            assert state["rescanDuration"] == "LIFETIME"
        page.get_by_role("button", name="Expire 1 image and save").click()
        page.wait_for_url(re.compile(r"saved=1$"))
        w.shot("settings-saved")
        with dockwatch.client() as c:
            state = c.get("/api/v1/configuration").json()["ecrConfiguration"]["rescanDurationState"]
        assert state["rescanDuration"] == "DAYS_7"
        w.page.context.close()
        w.check()
    finally:
        dockwatch.stop()
