"""The repositories and image pages: counts, findings, findings by layer with each layer's
Dockerfile step, the downloads, authorization and escaping."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from dockwatch.api.app import create_app
from dockwatch.app import Services
from tests.builders.layers import Image, make_image
from tests.builders.push import push_image
from tests.unit.api.conftest import client_for, make_services
from tests.unit.api.console.conftest import (
    HTML_PACKAGE,
    Browser,
    import_advisories,
    osv,
    python_layer,
    sign_in,
)

pytestmark = pytest.mark.anyio

REPOSITORY = "team/app"
"""A repository name with a slash (the registry refuses names with HTML in them; the package
name carries the HTML)."""
STEPS = [
    "ADD base.tar /",
    "ENV LANG=C.UTF-8",
    "RUN pip install plain==1.0",
    'CMD ["python"]',
    "RUN pip install bold==1.0",
]
EMPTY = {1, 3}
"""The steps that made no layer (`empty_layer`)."""
LAYER_PACKAGES = [None, "plain", HTML_PACKAGE]
"""What each layer installs (the base layer: nothing vulnerable)."""


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, Image]]:
    """An image of three layers whose config's history has two metadata-only steps."""
    tmp_path: Path = tmp_path_factory.mktemp("console-images")
    services = make_services(tmp_path)
    try:
        import_advisories(
            services,
            tmp_path / "osv",
            [
                osv("PYSEC-7-1", HTML_PACKAGE, "2.0", "CRITICAL"),
                osv("PYSEC-7-2", "plain", "1.5", "HIGH"),
            ],
        )
        services.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
        layers = [
            python_layer(p or "harmless", "1.0", str(i)) for i, p in enumerate(LAYER_PACKAGES)
        ]
        history = [
            {"created_by": step, **({"empty_layer": True} if i in EMPTY else {})}
            for i, step in enumerate(STEPS)
        ]
        image = make_image(layers, config_extra={"history": history})
        push_image(services, REPOSITORY, image, tag="v1")
        services.worker.drain()
        yield services, image
    finally:
        services.close()


@pytest.fixture
def imaged(pushed: tuple[Services, Image]) -> Services:
    return pushed[0]


@pytest.fixture
async def signed_in(imaged: Services) -> AsyncIterator[Browser]:
    async with client_for(create_app(imaged), auth=None) as client:
        yield Browser(client, await sign_in(client))


IMAGE_PATH = f"/console/repositories/{quote(REPOSITORY)}/images/v1"


def sections(text: str) -> list[str]:
    return re.findall(r'<section class="layer" id="layer-\d+">(.*?)</section>', text, re.S)


async def test_findings_are_grouped_by_the_layer_and_step_that_brought_them(
    pushed: tuple[Services, Image], signed_in: Browser
) -> None:
    page = await signed_in.client.get(IMAGE_PATH)
    assert page.status_code == 200, page.text
    # worked out from the image pushed: non-empty steps in order made the layers in order
    made = [s for i, s in enumerate(STEPS) if i not in EMPTY]
    found = sections(page.text)
    assert len(found) == len(LAYER_PACKAGES)
    for index, body in enumerate(found):
        layer = pushed[1].layers[index]
        assert f'title="{layer.digest}"' in body
        history = re.search(r'<p class="history"><code>(.*?)</code>', body, re.S)
        assert history is not None
        assert history.group(1) == made[index].replace('"', "&#34;")
        packages = re.findall(r'<td class="package">(.*?)</td>', body)
        package = LAYER_PACKAGES[index]
        escaped = [] if package is None else [package.replace("<", "&lt;").replace(">", "&gt;")]
        assert packages == escaped


async def test_the_image_page_lists_each_finding_with_its_columns(signed_in: Browser) -> None:
    page = await signed_in.client.get(IMAGE_PATH)
    table = re.search(r'<table id="findings">(.*?)</table>', page.text, re.S)
    assert table is not None
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1).split("</thead>")[1], re.S)
    cells = [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S) for r in rows]
    by_id = {re.sub(r"<[^>]+>", "", c[0]): c for c in cells}
    assert set(by_id) == {"PYSEC-7-1", "PYSEC-7-2"}
    critical = by_id["PYSEC-7-1"]
    assert critical[1] == "CRITICAL"
    assert critical[3:6] == ["&lt;b&gt;bold&lt;/b&gt;", "1.0", "2.0"]
    assert critical[6] == "YES"
    assert by_id["PYSEC-7-2"][1] == "HIGH" and by_id["PYSEC-7-2"][5] == "1.5"
    assert "ACTIVE" in page.text and HTML_PACKAGE not in page.text
    link = re.search(r'<a href="(/console/findings/[^"]+)">PYSEC-7-1</a>', page.text)
    assert link is not None
    detail = await signed_in.client.get(link.group(1))
    assert detail.status_code == 200 and "<h1>PYSEC-7-1" in detail.text


async def test_repositories_count_images_and_findings_and_link_to_images(
    signed_in: Browser,
) -> None:
    page = await signed_in.client.get("/console/repositories")
    assert page.status_code == 200
    assert f'<a href="/console/repositories/{quote(REPOSITORY)}">{REPOSITORY}</a>' in page.text
    assert 'data-count="images">1<' in page.text
    assert 'data-count="findings">2<' in page.text
    link = re.search(r'<th scope="row"><a href="([^"]+)">', page.text)
    assert link is not None
    images = await signed_in.client.get(link.group(1))
    assert images.status_code == 200
    assert "v1" in images.text and "PYSEC" not in images.text
    image_link = re.search(r'<th scope="row"><a href="([^"]+)">', images.text)
    assert image_link is not None
    image = await signed_in.client.get(image_link.group(1))
    assert image.status_code == 200 and "PYSEC-7-1" in image.text


async def test_the_exports_download_through_the_session(signed_in: Browser) -> None:
    page = await signed_in.client.get(IMAGE_PATH)
    hrefs = re.findall(r'<a class="button" href="([^"]+)" download>', page.text)
    assert len(hrefs) == 4
    sbom = await signed_in.client.get(hrefs[0].replace("&amp;", "&"))
    assert sbom.status_code == 200
    names = {c.get("name") for c in sbom.json().get("components", [])}
    assert {HTML_PACKAGE, "plain"} <= names
    exported = await signed_in.client.get(hrefs[3].replace("&amp;", "&"))
    assert exported.status_code == 200
    text = exported.text
    rows = list(csv.reader(io.StringIO(text)))
    assert sum("PYSEC-7-1" in ",".join(r) for r in rows) == 1
    assert sum("PYSEC-7-2" in ",".join(r) for r in rows) == 1


async def test_no_session_no_image_page(imaged: Services) -> None:
    async with client_for(create_app(imaged), auth=None) as client:
        for path in (IMAGE_PATH, "/console/repositories", IMAGE_PATH + "/sbom"):
            answer = await client.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/console/login?next=")


async def test_an_unknown_image_is_a_404_page(signed_in: Browser) -> None:
    answer = await signed_in.client.get(f"/console/repositories/{quote(REPOSITORY)}/images/v9")
    assert answer.status_code == 404
    assert "<h1" in answer.text
    none = await signed_in.client.get("/console/repositories/nothing/images/v1")
    assert none.status_code == 404
