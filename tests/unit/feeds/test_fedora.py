"""Fedora's Bodhi updates (real records, cut down): parsing, paging per release, air-gapped files."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from dockwatch.feeds import UNCHANGED, BodhiFeed, Feed, Fetched, default_feeds
from dockwatch.feeds.detect import Format, sniff
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.fedora import maintained_releases, parse_file, parse_update
from dockwatch.model.advisory import Advisory, SeverityType

DATA = Path(__file__).parents[2] / "data" / "feeds" / "fedora"
CVES = ("CVE-2006-20001", "CVE-2022-36760", "CVE-2022-37436")


def _advisories(path: Path) -> dict[str, Advisory]:
    return {a.id: a for a in parse_file(path) if isinstance(a, Advisory)}


def test_an_update_is_one_advisory_of_its_source_builds() -> None:
    (adv,) = _advisories(DATA / "F37-page-1.json").values()
    assert adv.id == "FEDORA-2023-f6ff3f85eb" and adv.source == "fedora"
    assert [(a.ecosystem, a.name, a.fixed_versions) for a in adv.affected] == [
        ("Fedora:37", "httpd", ("2.4.55-1.fc37",))
    ]
    assert adv.related == CVES and adv.cve_ids == CVES  # from the security bugs' titles
    (vendor,) = [s for s in adv.severities if s.type is SeverityType.VENDOR]
    assert (vendor.value, vendor.rating) == ("medium", "MEDIUM")
    assert adv.published is not None and adv.published.isoformat() == "2023-01-28T01:24:53+00:00"


def test_epel_testing_and_non_security_updates_are_not_fedora_advisories() -> None:
    assert _advisories(DATA / "FEDORA-EPEL-2017-a8886eb42e.json") == {}
    update = json.loads((DATA / "F37-page-1.json").read_text())["updates"][0]
    assert parse_update({**update, "status": "testing"}) is None
    assert parse_update({**update, "type": "bugfix"}) is None
    epoch = parse_update({**update, "builds": [{"nvr": "httpd-2.4.55-1.fc37", "epoch": 2}]})
    assert epoch is not None and epoch.affected[0].fixed_versions == ("2:2.4.55-1.fc37",)


def test_a_malformed_update_is_a_problem_not_an_abort(tmp_path: Path) -> None:
    page = json.loads((DATA / "F37-page-1.json").read_text())
    page["updates"].insert(0, {**page["updates"][0], "builds": [{"nvr": "no-release"}]})
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page))
    items = list(parse_file(path))
    assert [type(x).__name__ for x in items] == ["ParseProblem", "Advisory"]


def test_saved_pages_are_recognised_for_import() -> None:
    for path in DATA.glob("*.json"):
        assert sniff(path) is Format.BODHI


class _Bodhi:
    """A local updates API: pages per release from the fixtures, split one update per page."""

    def __init__(self) -> None:
        updates: dict[str, list[Any]] = {}
        for rel in ("F36", "F37"):
            page = json.loads((DATA / f"{rel}-page-1.json").read_text())
            updates[rel] = page["updates"] * 2  # two pages per release
        self.updates = updates
        self.queries: list[dict[str, list[str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                q = parse_qs(urlsplit(self.path).query)
                owner.queries.append(q)
                items = owner.updates[q["releases"][0]]
                n = int(q["page"][0])
                body = json.dumps(
                    {"updates": items[n - 1 : n], "page": n, "pages": len(items), "total": 2}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/updates/"


@pytest.fixture
def bodhi() -> Iterator[_Bodhi]:
    api = _Bodhi()
    thread = threading.Thread(target=api.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        api.server.shutdown()
        api.server.server_close()


def test_fetch_pages_every_release_then_unchanged(bodhi: _Bodhi, tmp_path: Path) -> None:
    feed = BodhiFeed(
        url=bodhi.url, releases=("F36", "F37"), policy=DownloadPolicy(tmp_root=tmp_path, timeout=10)
    )
    assert isinstance(feed, Feed)
    with httpx.Client() as http:
        fetched = feed.fetch(None, http)
        assert isinstance(fetched, Fetched)
        with fetched:
            ids = [x.id for x in feed.parse(fetched) if isinstance(x, Advisory)]
        assert sorted(set(ids)) == ["FEDORA-2023-6d4055d482", "FEDORA-2023-f6ff3f85eb"]
        assert len(ids) == 4  # two pages of each release
        assert feed.fetch(fetched.fingerprint, http) is UNCHANGED
    first = bodhi.queries[0]
    assert {k: v[0] for k, v in first.items()} == {
        "type": "security", "status": "stable", "releases": "F36", "rows_per_page": "100",
        "page": "1",
    }  # fmt: skip
    assert [(q["releases"][0], q["page"][0]) for q in bodhi.queries[:4]] == [
        ("F36", "1"), ("F36", "2"), ("F37", "1"), ("F37", "2"),
    ]  # fmt: skip


def test_registered_with_the_real_upstream() -> None:
    feed = next(f for f in default_feeds() if f.name == "fedora")
    assert isinstance(feed, BodhiFeed)
    assert feed.url == "https://bodhi.fedoraproject.org/updates/"


def test_the_maintained_releases_are_fetched_by_default() -> None:
    assert maintained_releases(date(2026, 12, 5)) == ("F43", "F44")
    assert maintained_releases(date(2025, 1, 1)) == ("F40", "F41", "F42", "F43", "F44")
