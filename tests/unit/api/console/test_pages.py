"""The pages' behaviour through HTTP: what each shows and what its forms change, checked
through /api/v1 (HTTP Basic) or the scanner's saved settings, never through the console."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dockwatch.api.app import create_app
from dockwatch.app import Services
from dockwatch.clock import ControlledClock
from tests.builders.layers import make_image
from tests.builders.push import push_image
from tests.unit.api.conftest import PASSWORD, USER, client_for, make_services

from .conftest import HTML_PACKAGE, Browser, python_layer, sign_in

pytestmark = pytest.mark.anyio


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Services]:
    """A registry of its own, for tests that change settings or move the clock."""
    services = make_services(tmp_path)
    yield services
    services.close()


@pytest.fixture
async def fresh_browser(fresh: Services) -> AsyncIterator[Browser]:
    async with client_for(create_app(fresh), auth=None) as client:
        yield Browser(client, await sign_in(client))


async def _api(services: Services, path: str) -> dict[str, object]:
    async with client_for(create_app(services), auth=(USER, PASSWORD)) as c:
        answer = await c.get(path)
        assert answer.status_code == 200
        body: dict[str, object] = answer.json()
        return body


async def test_dashboard_counts_the_findings_by_severity(browser: Browser) -> None:
    page = await browser.client.get("/console/")
    assert page.status_code == 200
    for severity, n in (("CRITICAL", 1), ("HIGH", 1), ("MEDIUM", 0), ("ALL", 2)):
        assert f'data-severity="{severity}">{n}<' in page.text
    assert 'data-count="covered">1<' in page.text  # the one image is monitored
    # the chart has a title and a description, and its numbers as a table: today 2 open
    assert '<title id="trend-title">' in page.text and '<desc id="trend-desc">' in page.text
    last_row = re.findall(r"<tr><th scope=\"row\">[0-9-]+</th>(.*?)</tr>", page.text)[-1]
    assert re.findall(r"<td>(\d+)</td>", last_row) == ["1", "1", "0", "0", "0", "0", "2"]


async def test_a_package_name_with_html_is_shown_as_text(browser: Browser) -> None:
    page = await browser.client.get("/console/")
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text  # the newest critical finding's title
    assert HTML_PACKAGE not in page.text


async def test_text_sent_back_into_a_page_is_escaped(browser: Browser) -> None:
    evil = "<script>alert(1)</script>"
    answer = await browser.client.post(
        "/console/scanning",
        data={"csrf_token": browser.csrf, "scan_type": "ENHANCED", "mode": "filters",
              "continuous_filters": evil, "action": "preview"},
    )  # fmt: skip
    assert answer.status_code == 400
    assert evil not in answer.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    coverage = await browser.client.get("/console/coverage", params={"ecrRepositoryName": evil})
    assert coverage.status_code == 200 and evil not in coverage.text


async def test_scanning_preview_shows_each_repository_and_saves_nothing(
    fresh: Services, fresh_browser: Browser
) -> None:
    for name in ("prod-api", "dev-api", "tools"):
        push_image(fresh, name, make_image([python_layer("plain", "1.0", name)]), tag="v1")
    answer = await fresh_browser.client.post(
        "/console/scanning",
        data={"csrf_token": fresh_browser.csrf, "scan_type": "ENHANCED", "mode": "filters",
              "continuous_filters": "prod-*", "on_push_filters": "dev\n", "action": "preview"},
    )  # fmt: skip
    assert answer.status_code == 200
    rows = {
        name: (scanned, frequency)
        for name, scanned, frequency in re.findall(
            r'<tr><th scope="row">([^<]+)</th><td>(yes|no)</td><td>([A-Z_]+)</td>', answer.text
        )
    }
    # ECR's rules, by hand: `prod-*` a glob, `dev` a substring, the rest not scanned
    assert rows == {
        "prod-api": ("yes", "CONTINUOUS_SCAN"),
        "dev-api": ("yes", "SCAN_ON_PUSH"),
        "tools": ("no", "MANUAL"),
    }
    saved = await _api(fresh, "/api/v1/registry/scanning-configuration")
    assert saved["scanningConfiguration"] == {"scanType": "BASIC", "rules": []}


async def test_scanning_save_is_what_the_api_reads(fresh: Services, fresh_browser: Browser) -> None:
    answer = await fresh_browser.client.post(
        "/console/scanning",
        data={"csrf_token": fresh_browser.csrf, "scan_type": "ENHANCED", "mode": "filters",
              "continuous_filters": "prod-*\nteam/*", "on_push_filters": "ci", "action": "save"},
    )  # fmt: skip
    assert answer.status_code == 303
    saved = await _api(fresh, "/api/v1/registry/scanning-configuration")
    assert saved["scanningConfiguration"] == {
        "scanType": "ENHANCED",
        "rules": [
            {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [
                {"filter": "prod-*", "filterType": "WILDCARD"},
                {"filter": "team/*", "filterType": "WILDCARD"}]},
            {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [
                {"filter": "ci", "filterType": "WILDCARD"}]},
        ],
    }  # fmt: skip
    page = await fresh_browser.client.get("/console/scanning?saved=1")
    assert "prod-*\nteam/*</textarea>" in page.text and "is saved" in page.text


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"scan_type": "BASIC", "mode": "continuous_all"}, "mode", "needs enhanced"),
        ({"scan_type": "BASIC", "mode": "filters", "continuous_filters": "prod"},
         "continuous_filters", "SCAN_ON_PUSH"),
        ({"scan_type": "ENHANCED", "mode": "filters", "on_push_filters": "ok\nUpper"},
         "on_push_filters", "'Upper'"),
        ({"scan_type": "NONE", "mode": "filters"}, "scan_type", "basic or enhanced"),
    ],
)  # fmt: skip
async def test_an_invalid_choice_is_explained_next_to_its_field(
    fresh: Services, fresh_browser: Browser, fields: dict[str, str], field: str, words: str
) -> None:
    answer = await fresh_browser.client.post(
        "/console/scanning", data={"csrf_token": fresh_browser.csrf, "action": "save", **fields}
    )
    assert answer.status_code == 400
    error = re.search(rf'<p class="error" id="{field}-error" role="alert">([^<]*)</p>', answer.text)
    assert error is not None and words in error.group(1).replace("&#39;", "'")
    assert fresh.scanner.settings()[0].scan_type.value == "BASIC"  # nothing saved


async def test_a_shorter_duration_says_which_images_expire_before_saving(
    fresh: Services, fresh_browser: Browser
) -> None:
    clock = fresh.clock
    assert isinstance(clock, ControlledClock)
    fresh.scanner.put_scanning_configuration(
        {"scanType": "ENHANCED", "rules": [{"scanFrequency": "CONTINUOUS_SCAN",
         "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}]}]}
    )  # fmt: skip
    push_image(fresh, "prod-old", make_image([python_layer("plain", "1.0", "a")]), tag="v1")
    push_image(fresh, "other", make_image([python_layer("plain", "1.0", "b")]), tag="v1")
    fresh.worker.drain()
    clock.advance(timedelta(days=10))
    push_image(fresh, "prod-new", make_image([python_layer("plain", "1.0", "c")]), tag="v1")
    fresh.worker.drain()
    # ten days on, the session of the fixture has ended (8 hours): sign in again
    assert (await fresh_browser.client.get("/console/settings")).status_code == 303
    fresh_browser.csrf = await sign_in(fresh_browser.client)
    # DAYS_7: prod-old was pushed 10 days ago (expires); prod-new today (stays); `other` is
    # not continuously scanned, so no duration applies to it
    form = {"csrf_token": fresh_browser.csrf, "rescan_duration": "DAYS_7",
            "pull_date_rescan_duration": "NONE", "pull_date_rescan_mode": "LAST_PULL_DATE"}  # fmt: skip
    review = await fresh_browser.client.post("/console/settings", data=form)
    assert review.status_code == 200
    assert "1 image will expire now" in review.text and "prod-old@sha256:" in review.text
    assert "prod-new@" not in review.text
    assert fresh.scanner.settings()[1].rescan_duration == "LIFETIME"  # not saved yet
    confirm = re.search(r'name="confirm" value="(\d+)"', review.text)
    assert confirm is not None and confirm.group(1) == "1"
    saved = await fresh_browser.client.post("/console/settings", data={**form, "confirm": "1"})
    assert saved.status_code == 303
    body = await _api(fresh, "/api/v1/configuration")
    assert body["ecrConfiguration"]["rescanDurationState"]["rescanDuration"] == "DAYS_7"  # type: ignore[index]


async def test_a_longer_duration_saves_at_once(fresh: Services, fresh_browser: Browser) -> None:
    form = {"csrf_token": fresh_browser.csrf, "rescan_duration": "DAYS_180",
            "pull_date_rescan_duration": "DAYS_30", "pull_date_rescan_mode": "LAST_PULL_DATE"}  # fmt: skip
    assert (await fresh_browser.client.post("/console/settings", data=form)).status_code == 303
    ecr = fresh.scanner.settings()[1]
    assert (ecr.rescan_duration, ecr.pull_date_rescan_duration) == ("DAYS_180", "DAYS_30")


async def test_coverage_lists_images_with_their_status_and_pages(
    fresh: Services, fresh_browser: Browser
) -> None:
    fresh.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
    names = [f"repo-{i:02d}" for i in range(55)]
    for name in names:
        push_image(fresh, name, make_image([python_layer("plain", "1.0", name)]), tag="v1")
    fresh.worker.drain()
    seen: list[str] = []
    url: str | None = "/console/coverage"
    while url:
        page = await fresh_browser.client.get(url)
        assert page.status_code == 200
        table = page.text.split('id="images"')[1].split("</table>")[0]
        seen += re.findall(r'<tr><th scope="row">([^<]+)</th>.*?<td>ACTIVE</td>', table)
        nxt = re.search(r'<a href="([^"]+)" rel="next">', page.text)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert seen == names  # every image once, in repository order, over two pages
    one = await fresh_browser.client.get(
        "/console/coverage", params={"ecrRepositoryName": "repo-07"}
    )
    table = one.text.split('id="images"')[1].split("</table>")[0]
    assert re.findall(r'<tr><th scope="row">([^<]+)</th>', table) == ["repo-07"]


async def test_bad_input_gets_an_error_page_not_a_500(browser: Browser) -> None:
    for url, status in (
        ("/console/coverage?nextToken=garbage", 400),
        ("/console/coverage/enhanced?action=explode", 400),
        ("/console/no-such-page", 404),
    ):
        answer = await browser.client.get(url)
        assert answer.status_code == status, url
        assert "<main" in answer.text and f"Error {status}" in answer.text
    bad = await browser.client.post(
        "/console/settings", data={"csrf_token": browser.csrf, "rescan_duration": "DAYS_4"}
    )
    assert bad.status_code == 400 and "DAYS_4" in bad.text


async def test_deactivating_enhanced_scanning_asks_first_and_says_what_happens(
    fresh: Services, fresh_browser: Browser
) -> None:
    fresh.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
    confirm = await fresh_browser.client.get("/console/coverage/enhanced?action=deactivate")
    assert "closes the enhanced findings" in confirm.text
    assert fresh.scanner.settings()[0].scan_type.value == "ENHANCED"  # asking changed nothing
    unconfirmed = await fresh_browser.client.post(
        "/console/coverage/enhanced",
        data={"csrf_token": fresh_browser.csrf, "action": "deactivate"},
    )
    assert unconfirmed.status_code == 400
    done = await fresh_browser.client.post(
        "/console/coverage/enhanced",
        data={"csrf_token": fresh_browser.csrf, "action": "deactivate", "confirm": "yes"},
    )
    assert done.status_code == 303
    saved = await _api(fresh, "/api/v1/registry/scanning-configuration")
    assert saved["scanningConfiguration"]["scanType"] == "BASIC"  # type: ignore[index]


async def test_pages_carry_the_security_headers(browser: Browser) -> None:
    page = await browser.client.get("/console/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
