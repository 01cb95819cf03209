"""The image and findings pages in a real Chromium against a real `dockwatch serve`: push an
image with skopeo, open its image page and find each finding under the layer, and Dockerfile
step, that brought it; filter the findings list, create a suppression rule from the filter and
see the finding become suppressed. The page fails the test on a console error or a failed
request, and each page visited is saved as a screenshot under the test's temporary folder."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.builders.layers import make_image, write_oci_layout
from tests.e2e.test_console_browser import _scanned, sign_in
from tests.support.browser import Watched, watch
from tests.support.cli import db_import
from tests.support.servers import Server, start_dockwatch
from tests.support.skopeo import copy
from tests.unit.api.console.conftest import HTML_PACKAGE, osv, python_layer

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow

REPOSITORY = "shop/app"
HISTORY = [
    {"created_by": "RUN pip install plain==1.0"},
    {"created_by": "ENV MODE=prod", "empty_layer": True},
    {"created_by": "RUN pip install bold==1.0"},
]
"""Two layers: the first installs `plain`, the second the package named with HTML."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    tmp = tmp_path_factory.mktemp("console-images-browser")
    dockwatch = start_dockwatch(tmp / "data")
    try:
        folder = tmp / "osv"
        folder.mkdir()
        for record in (
            osv("PYSEC-5-1", HTML_PACKAGE, "2.0", "CRITICAL"),
            osv("PYSEC-5-2", "plain", "2.0", "HIGH"),
        ):
            (folder / f"{record['id']}.json").write_text(json.dumps(record))
        db_import(dockwatch.data, folder)
        image = make_image(
            [python_layer("plain", "1.0", "1"), python_layer(HTML_PACKAGE, "1.0", "2")],
            config_extra={"history": HISTORY},
        )
        write_oci_layout(tmp / "layout", [image])
        yield dockwatch, tmp
    finally:
        dockwatch.stop()


@pytest.fixture
def watched(chromium: Browser, server: tuple[Server, Path], tmp_path: Path) -> Iterator[Watched]:
    w = watch(chromium, tmp_path / "screenshots", server[0].url)
    yield w
    w.page.context.close()
    w.check()


def test_image_page_by_layer_then_suppress_from_the_findings_filter(
    watched: Watched, server: tuple[Server, Path]
) -> None:
    dockwatch, tmp = server
    page = watched.page
    with dockwatch.client() as c:
        put = c.put(
            "/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []}
        )
        assert put.status_code == 200, put.text
        copy(f"oci:{tmp / 'layout'}:latest", f"docker://{dockwatch.host}/{REPOSITORY}:v1",
             home=tmp / "home", dest_auth=dockwatch.auth)  # fmt: skip
        _scanned(c, REPOSITORY)
    sign_in(watched, "/console/repositories")
    watched.shot("repositories")
    page.get_by_role("link", name=REPOSITORY).click()
    page.get_by_role("heading", name=REPOSITORY).wait_for()
    watched.shot("repository")
    page.get_by_role("link", name=re.compile("v1")).click()
    page.locator("#findings").wait_for()
    watched.shot("image")
    assert page.locator("#findings td.package").all_inner_texts() in (
        [HTML_PACKAGE, "plain"],
        ["plain", HTML_PACKAGE],
    )
    second = page.locator("#layer-1")
    assert second.locator(".history").inner_text() == "RUN pip install bold==1.0"
    assert second.locator("td.package").all_inner_texts() == [HTML_PACKAGE]
    first = page.locator("#layer-0")
    assert first.locator(".history").inner_text() == "RUN pip install plain==1.0"
    assert first.locator("td.package").all_inner_texts() == ["plain"]

    page.get_by_role("link", name="Findings", exact=True).click()
    page.get_by_label("Severity").select_option("HIGH")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"severity=HIGH"))
    watched.shot("findings-high")
    assert page.locator("#findings td.package").all_inner_texts() == ["plain"]
    assert page.locator("#findings td.status").all_inner_texts() == ["ACTIVE"]
    page.get_by_label("Rule name").fill("accept-plain")
    page.get_by_role("button", name="Create a suppression rule from this filter").click()
    page.get_by_role("heading", name="Suppression rule created").wait_for()
    watched.shot("rule-created")
    assert page.locator('[data-count="changed"]').inner_text() == "1"
    page.get_by_role("link", name="Back to the findings of this filter").click()
    page.locator("#findings").wait_for()
    watched.shot("findings-suppressed")
    assert page.locator("#findings td.status").all_inner_texts() == ["SUPPRESSED"]
