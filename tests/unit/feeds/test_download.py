"""Fetching against a local server that behaves like each upstream."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from dockwatch.feeds.alpine import AlpineFeed
from dockwatch.feeds.debian import DebianFeed
from dockwatch.feeds.download import DownloadPolicy, retry_after_seconds
from dockwatch.feeds.epss import EpssFeed
from dockwatch.feeds.feed import (
    UNCHANGED,
    Feed,
    Fetched,
    FetchError,
    IncompleteDownload,
    RateLimited,
    TooLarge,
)
from dockwatch.feeds.kev import KevFeed
from dockwatch.feeds.nvd import NvdFeed
from dockwatch.feeds.osv_feed import OsvFeed
from dockwatch.model.advisory import Advisory, EpssScore, KevEntry, NvdCvss
from tests.builders import feeds as b
from tests.unit.feeds.upstream import Resource, SleepRecorder, Upstream, serve


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def tmp_root(tmp_path: Path) -> Path:
    root = tmp_path / "feedtmp"
    root.mkdir()
    return root


def _policy(tmp_root: Path, **kw: object) -> DownloadPolicy:
    return DownloadPolicy(tmp_root=tmp_root, timeout=10, **kw)  # type: ignore[arg-type]


def _zip_bytes(tmp_path: Path) -> bytes:
    return b.osv_zip(tmp_path / "src.zip", b.GHSA_EXAMPLES).read_bytes()


def test_every_feed_satisfies_the_protocol() -> None:
    for feed in (OsvFeed("PyPI"), DebianFeed(), AlpineFeed(), NvdFeed(), KevFeed(), EpssFeed()):
        assert isinstance(feed, Feed), feed


def test_default_urls_are_the_real_upstreams() -> None:
    assert OsvFeed("PyPI").source_url == (
        "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
    )
    assert DebianFeed().url == "https://security-tracker.debian.org/tracker/data/json"
    assert AlpineFeed(branches=("v3.19",)).requests()[0].url == (
        "https://secdb.alpinelinux.org/v3.19/main.json"
    )
    assert NvdFeed().url == "https://services.nvd.nist.gov/rest/json/cves/2.0"
    assert KevFeed().url == (
        "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
    )
    assert EpssFeed().url == "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"


def test_osv_zip_then_304_on_etag(
    upstream: Upstream, http: httpx.Client, tmp_path: Path, tmp_root: Path
) -> None:
    upstream.resources["/PyPI/all.zip"] = Resource(_zip_bytes(tmp_path), etag='"v1"')
    feed = OsvFeed("PyPI", url=upstream.url("/PyPI/all.zip"), policy=_policy(tmp_root))
    fetched = feed.fetch(None, http)
    assert isinstance(fetched, Fetched)
    with fetched:
        advisories = [x for x in feed.parse(fetched) if isinstance(x, Advisory)]
        assert {a.id for a in advisories} == {r["id"] for r in b.GHSA_EXAMPLES}
        assert fetched.fingerprint.parts[0].etag == '"v1"'
    assert list(tmp_root.iterdir()) == []
    assert feed.fetch(fetched.fingerprint, http) is UNCHANGED
    assert upstream.log[-1][1].get("If-None-Match") == '"v1"'
    assert list(tmp_root.iterdir()) == []


def test_debian_304_on_last_modified(
    upstream: Upstream, http: httpx.Client, tmp_root: Path
) -> None:
    lm = "Wed, 26 Nov 2026 10:00:00 GMT"
    upstream.resources["/tracker/data/json"] = Resource(b.debian_tracker(), last_modified=lm)
    feed = DebianFeed(url=upstream.url("/tracker/data/json"), policy=_policy(tmp_root))
    first = feed.fetch(None, http)
    assert isinstance(first, Fetched)
    first.close()
    assert feed.fetch(first.fingerprint, http) is UNCHANGED
    assert upstream.log[-1][1].get("If-Modified-Since") == lm


def test_same_content_without_validators_is_unchanged(
    upstream: Upstream, http: httpx.Client, tmp_root: Path
) -> None:
    upstream.resources["/kev.json"] = Resource(b.kev_catalogue([]))
    feed = KevFeed(url=upstream.url("/kev.json"), policy=_policy(tmp_root))
    first = feed.fetch(None, http)
    assert isinstance(first, Fetched)
    first.close()
    assert feed.fetch(first.fingerprint, http) is UNCHANGED
    upstream.resources["/kev.json"] = Resource(
        b.kev_catalogue([{"cveID": "CVE-2021-44228", "dateAdded": "2021-12-10"}])
    )
    second = feed.fetch(first.fingerprint, http)
    assert isinstance(second, Fetched)
    with second:
        assert [x.cve_id for x in feed.parse(second) if isinstance(x, KevEntry)] == [
            "CVE-2021-44228"
        ]


def test_429_is_retried_after_retry_after(
    upstream: Upstream, http: httpx.Client, tmp_root: Path
) -> None:
    upstream.resources["/kev.json"] = Resource(b.kev_catalogue([]), throttle=2, retry_after="3")
    sleep = SleepRecorder()
    feed = KevFeed(url=upstream.url("/kev.json"), policy=_policy(tmp_root), sleep=sleep)
    fetched = feed.fetch(None, http)
    assert isinstance(fetched, Fetched)
    fetched.close()
    assert sleep.waits == [3.0, 3.0]


def test_429_beyond_the_bounds_raises(
    upstream: Upstream, http: httpx.Client, tmp_root: Path
) -> None:
    upstream.resources["/long"] = Resource(b"{}", throttle=1, retry_after="86400")
    feed = KevFeed(url=upstream.url("/long"), policy=_policy(tmp_root), sleep=SleepRecorder())
    with pytest.raises(RateLimited) as e:
        feed.fetch(None, http)
    assert e.value.retry_after == 86400.0
    upstream.resources["/many"] = Resource(b"{}", throttle=10, retry_after="1")
    feed = KevFeed(
        url=upstream.url("/many"), policy=_policy(tmp_root, max_attempts=3), sleep=SleepRecorder()
    )
    with pytest.raises(RateLimited):
        feed.fetch(None, http)
    assert list(tmp_root.iterdir()) == []


def test_retry_after_http_date() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Wed, 26 Nov 2026 10:00:30 GMT", now) == 30.0
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("soon", now) is None


def test_cut_off_body_raises_and_leaves_nothing(
    upstream: Upstream, http: httpx.Client, tmp_path: Path, tmp_root: Path
) -> None:
    body = _zip_bytes(tmp_path)
    upstream.resources["/all.zip"] = Resource(body, etag='"x"', cut_at=len(body) // 2)
    feed = OsvFeed("npm", url=upstream.url("/all.zip"), policy=_policy(tmp_root))
    with pytest.raises(IncompleteDownload):
        feed.fetch(None, http)
    assert list(tmp_root.iterdir()) == []


def test_a_body_that_is_not_a_whole_zip_fails_verification(
    upstream: Upstream, http: httpx.Client, tmp_path: Path, tmp_root: Path
) -> None:
    """A complete transfer of an archive cut short upstream: no central directory (members
    are checked as they are read: `tests/unit/vulndb/test_damaged_downloads.py`)."""
    body = _zip_bytes(tmp_path)[:-30]
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(body))
    upstream.resources["/all.zip"] = Resource(body)
    feed = OsvFeed("npm", url=upstream.url("/all.zip"), policy=_policy(tmp_root))
    with pytest.raises(IncompleteDownload, match="verification failed"):
        feed.fetch(None, http)
    assert list(tmp_root.iterdir()) == []


def test_truncated_json_fails_verification(
    upstream: Upstream, http: httpx.Client, tmp_root: Path
) -> None:
    upstream.resources["/json"] = Resource(b.debian_tracker()[:-10])  # complete transfer, bad JSON
    feed = DebianFeed(url=upstream.url("/json"), policy=_policy(tmp_root))
    with pytest.raises(IncompleteDownload):
        feed.fetch(None, http)
    assert list(tmp_root.iterdir()) == []


def test_size_cap(upstream: Upstream, http: httpx.Client, tmp_root: Path) -> None:
    upstream.resources["/json"] = Resource(b.debian_tracker())
    feed = DebianFeed(url=upstream.url("/json"), policy=_policy(tmp_root, max_bytes=100))
    with pytest.raises(TooLarge):
        feed.fetch(None, http)
    assert list(tmp_root.iterdir()) == []


def test_http_error_status(upstream: Upstream, http: httpx.Client, tmp_root: Path) -> None:
    feed = DebianFeed(url=upstream.url("/missing"), policy=_policy(tmp_root))
    with pytest.raises(FetchError) as e:
        feed.fetch(None, http)
    assert e.value.status == 404


def test_alpine_partial_304_refetches_the_rest(
    upstream: Upstream, http: httpx.Client, tmp_root: Path
) -> None:
    upstream.resources["/v3.19/main.json"] = Resource(
        b.alpine_secdb("v3.19", "main", b.ALPINE_MAIN_V319), etag='"m1"'
    )
    upstream.resources["/v3.19/community.json"] = Resource(
        b.alpine_secdb("v3.19", "community", b.ALPINE_COMMUNITY_V319), etag='"c1"'
    )
    feed = AlpineFeed(base_url=upstream.base_url, branches=("v3.19",), policy=_policy(tmp_root))
    first = feed.fetch(None, http)
    assert isinstance(first, Fetched)
    first.close()
    assert feed.fetch(first.fingerprint, http) is UNCHANGED
    upstream.resources["/v3.19/community.json"] = Resource(
        b.alpine_secdb("v3.19", "community", [("php83", {"8.3.9-r0": ["CVE-2024-9999"]})]),
        etag='"c2"',
    )
    second = feed.fetch(first.fingerprint, http)
    assert isinstance(second, Fetched)
    with second:
        ids = {x.id for x in feed.parse(second) if isinstance(x, Advisory)}
    assert "CVE-2024-9999" in ids and "CVE-2023-5678" in ids  # main came from a refetch
    assert "CVE-2024-4577" not in ids


def test_nvd_pages_with_start_index(upstream: Upstream, http: httpx.Client, tmp_root: Path) -> None:
    upstream.nvd_items = [b.nvd_cve(f"CVE-2020-{1000 + i}") for i in range(5)]
    sleep = SleepRecorder()
    feed = NvdFeed(
        url=upstream.url("/nvd"), results_per_page=2, page_delay=6.0, policy=_policy(tmp_root),
        sleep=sleep, api_key="secret",
    )  # fmt: skip
    fetched = feed.fetch(None, http)
    assert isinstance(fetched, Fetched)
    with fetched:
        got = [x.cve_id for x in feed.parse(fetched) if isinstance(x, NvdCvss)]
    assert got == [f"CVE-2020-{1000 + i}" for i in range(5)]
    starts = [p for p, _ in upstream.log]
    assert [s.split("startIndex=")[1].split("&")[0] for s in starts] == ["0", "2", "4"]
    assert all(h.get("apiKey") == "secret" for _, h in upstream.log)
    assert all("secret" not in p.url for p in fetched.fingerprint.parts)
    assert sleep.waits == [6.0, 6.0]
    # every page carries a new `timestamp`, yet the same CVEs are UNCHANGED
    assert feed.fetch(fetched.fingerprint, http) is UNCHANGED
    upstream.nvd_items[3] = b.nvd_cve(
        "CVE-2020-1003", v31="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    )
    again = feed.fetch(fetched.fingerprint, http)
    assert isinstance(again, Fetched)
    again.close()
    assert list(tmp_root.iterdir()) == []


def test_nvd_server_caps_page_size_and_throttles(
    upstream: Upstream, http: httpx.Client, tmp_root: Path
) -> None:
    upstream.nvd_items = [b.nvd_cve(f"CVE-2021-{1000 + i}") for i in range(7)]
    upstream.nvd_max_per_page = 3  # asks for 2000, gets 3 per page
    upstream.nvd_throttle = 1
    sleep = SleepRecorder()
    feed = NvdFeed(url=upstream.url("/nvd"), page_delay=0, policy=_policy(tmp_root), sleep=sleep)
    fetched = feed.fetch(None, http)
    assert isinstance(fetched, Fetched)
    with fetched:
        assert len([x for x in feed.parse(fetched) if isinstance(x, NvdCvss)]) == 7
    assert sleep.waits == [1.0]


def test_epss_follows_the_current_redirect(
    upstream: Upstream, http: httpx.Client, tmp_root: Path
) -> None:
    upstream.resources["/epss_scores-current.csv.gz"] = Resource(
        b"", redirect_to=upstream.url("/epss_scores-2025-03-20.csv.gz")
    )
    upstream.resources["/epss_scores-2025-03-20.csv.gz"] = Resource(
        b.epss_csv(b.EPSS_EXAMPLE_ROWS), etag='"e"'
    )
    feed = EpssFeed(url=upstream.url("/epss_scores-current.csv.gz"), policy=_policy(tmp_root))
    fetched = feed.fetch(None, http)
    assert isinstance(fetched, Fetched)
    with fetched:
        assert len([x for x in feed.parse(fetched) if isinstance(x, EpssScore)]) == 4


def test_truncated_gzip_fails_verification(
    upstream: Upstream, http: httpx.Client, tmp_root: Path
) -> None:
    body = b.epss_csv(b.generated_epss(2000))
    upstream.resources["/e.gz"] = Resource(body[: len(body) - 20])
    feed = EpssFeed(url=upstream.url("/e.gz"), policy=_policy(tmp_root))
    with pytest.raises(IncompleteDownload):
        feed.fetch(None, http)
    assert list(tmp_root.iterdir()) == []


def test_fetched_files_are_verified_json(
    upstream: Upstream, http: httpx.Client, tmp_root: Path
) -> None:
    upstream.resources["/json"] = Resource(b.debian_tracker())
    feed = DebianFeed(url=upstream.url("/json"), policy=_policy(tmp_root))
    fetched = feed.fetch(None, http)
    assert isinstance(fetched, Fetched)
    with fetched:
        assert orjson.loads(fetched.files[0].path.read_bytes()) == b.DEBIAN_EXAMPLE
    assert list(tmp_root.iterdir()) == []


def test_default_feeds_have_unique_names() -> None:
    from dockwatch.feeds import default_feeds

    feeds = default_feeds()
    names = [f.name for f in feeds]
    assert len(names) == len(set(names))
    assert {f.kind for f in feeds if f.name in ("nvd", "kev", "epss")} == {"enrichment"}
    assert all(f.kind == "vulnerability" for f in feeds if f.name not in ("nvd", "kev", "epss"))


def test_gzip_transfer_encoding_is_decoded_and_length_checked(
    upstream: Upstream, http: httpx.Client, tmp_root: Path
) -> None:
    import gzip

    body = b.debian_tracker()
    upstream.resources["/json"] = Resource(
        gzip.compress(body), headers={"Content-Encoding": "gzip"}, etag='"g"'
    )
    feed = DebianFeed(url=upstream.url("/json"), policy=_policy(tmp_root))
    fetched = feed.fetch(None, http)
    assert isinstance(fetched, Fetched)
    with fetched:
        assert fetched.files[0].path.read_bytes() == body
    compressed = gzip.compress(body)
    upstream.resources["/cut"] = Resource(
        compressed, headers={"Content-Encoding": "gzip"}, cut_at=len(compressed) - 30
    )
    feed = DebianFeed(url=upstream.url("/cut"), policy=_policy(tmp_root))
    with pytest.raises(IncompleteDownload):
        feed.fetch(None, http)
    assert list(tmp_root.iterdir()) == []


def test_a_fetch_removes_the_downloads_of_killed_processes(
    upstream: Upstream, http: httpx.Client, tmp_path: Path, tmp_root: Path
) -> None:
    """A sync killed outright leaves its download folder; the next fetch in the same temporary
    folder removes those of processes that have ended on this host, and nothing else."""
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        namespace = os.readlink("/proc/self/ns/pid").split("[")[1].rstrip("]")
        here = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8] + "." + namespace
        killed.kill()
        killed.wait()
        left = {
            "dead": f"dockwatch-feed-{here}.{killed.pid}-osv_PyPI-abc",
            "alive": f"dockwatch-feed-{here}.{running.pid}-osv_PyPI-def",
            "namespace": f"dockwatch-feed-{here[:8]}.1.{killed.pid}-osv_PyPI-ghi",
            "host": f"dockwatch-feed-00000000.{namespace}.{killed.pid}-osv_PyPI-ghi",
            "older": "dockwatch-feed-osv_PyPI-jkl",
            "other": f"mine-{here}.{killed.pid}",
        }
        for name in left.values():
            (tmp_root / name).mkdir()
            (tmp_root / name / "all.zip").write_bytes(b"partial")
        victim = tmp_path / "victim"
        victim.mkdir()
        (victim / "keep").write_bytes(b"")
        link = tmp_root / f"dockwatch-feed-{here}.{killed.pid}-link-mno"
        link.symlink_to(victim)
        upstream.resources["/PyPI/all.zip"] = Resource(_zip_bytes(tmp_path), etag='"v1"')
        feed = OsvFeed("PyPI", url=upstream.url("/PyPI/all.zip"), policy=_policy(tmp_root))
        fetched = feed.fetch(None, http)
        assert isinstance(fetched, Fetched) and fetched.workdir is not None
        assert fetched.workdir.name.startswith(f"dockwatch-feed-{here}.{os.getpid()}-osv_PyPI-")
        fetched.close()
    finally:
        running.kill()
        running.wait()
    kept = {p.name for p in tmp_root.iterdir()}
    assert kept == {link.name} | {v for k, v in left.items() if k != "dead"}
    assert (victim / "keep").exists()
