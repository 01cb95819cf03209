"""Continuous means continuous: a server with a short sync interval picks up an advisory
published upstream and the finding appears on a continuously scanned image, with no command run.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.unit_of_work import SqlStore
from tests.builders.feeds import osv_zip
from tests.builders.layers import make_image, make_layer, write_oci_layout
from tests.support.cli import dockwatch
from tests.support.servers import Server, start_dockwatch
from tests.support.skopeo import copy
from tests.unit.feeds.upstream import Resource, Upstream, serve


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


def _osv(vid: str, package: str, fixed: str) -> dict[str, Any]:
    return {
        "id": vid,
        "modified": "2026-11-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }


def _publish(up: Upstream, folder: Path, etag: str, *records: dict[str, Any]) -> None:
    body = osv_zip(folder / f"{etag}.zip", records).read_bytes()
    up.resources["/osv/PyPI/all.zip"] = Resource(body, etag=f'"{etag}"')


def _wait(what: str, check: Any, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.3)


def _finding_ids(c: httpx.Client, repo: str) -> set[str]:
    r = c.get(f"/api/v1/repositories/{repo}/images/latest/findings")
    if r.status_code != 200:
        return set()
    return {
        f["packageVulnerabilityDetails"]["vulnerabilityId"]
        for f in r.json()["imageScanFindings"].get("enhancedFindings", [])
    }


def _feed(server: Server) -> dict[str, Any] | None:
    with server.client() as c:
        feeds = c.get("/healthz").json().get("feeds", [])
    return next((f for f in feeds if f["name"] == "osv:PyPI"), None)


def test_a_new_upstream_advisory_reaches_the_findings_with_no_command_run(
    upstream: Upstream, tmp_path: Path
) -> None:
    _publish(upstream, tmp_path, "v1", _osv("PYSEC-9-1", "alpha", "2.0"))
    server = start_dockwatch(
        tmp_path / "data",
        env={
            "DOCKWATCH_SYNC_INTERVAL": "2",
            "DOCKWATCH_FEEDS": "osv:PyPI",
            "DOCKWATCH_FEED_URLS": f"osv:PyPI={upstream.url('/osv/PyPI/all.zip')}",
        },
    )
    try:
        # synced at start because the database was empty
        feed = _wait("the first scheduled sync", lambda: (_feed(server) or {}).get("lastSuccessAt"))
        assert feed
        with server.client() as c:
            c.put(
                "/api/v1/registry/scanning-configuration",
                json={"scanType": "ENHANCED", "rules": []},
            )
            files = {
                f"usr/lib/python3/site-packages/{n}-{v}.dist-info/METADATA": (
                    f"Metadata-Version: 2.1\nName: {n}\nVersion: {v}\n"
                )
                for n, v in {"alpha": "1.0", "beta": "3.0"}.items()
            }
            layout = write_oci_layout(tmp_path / "img", [make_image([make_layer(files)])])
            copy(f"oci:{layout}:latest", f"docker://{server.host}/svc:latest",
                 home=tmp_path / "home", dest_auth=server.auth)  # fmt: skip
            _wait("the scan on push", lambda: _finding_ids(c, "svc") == {"PYSEC-9-1"})
            requests = len(upstream.log)
            _wait("a second, conditional sync", lambda: len(upstream.log) > requests)
            assert upstream.log[-1][1].get("If-None-Match") == '"v1"'

            # an advisory about beta is published upstream; nobody runs a command
            _publish(
                upstream,
                tmp_path,
                "v2",
                _osv("PYSEC-9-1", "alpha", "2.0"),
                _osv("PYSEC-9-2", "beta", "4.0"),
            )
            _wait(
                "the new advisory's finding",
                lambda: _finding_ids(c, "svc") == {"PYSEC-9-1", "PYSEC-9-2"},
            )
            metrics = c.get("/metrics").text
        assert 'dockwatch_feed_stale{source="osv:PyPI"} 0.0' in metrics
        assert 'dockwatch_feed_failing{source="osv:PyPI"} 0.0' in metrics
        feed = _feed(server)
        assert feed is not None and feed["stale"] is False and feed["lastError"] is None
    finally:
        server.stop()


def _lease(data: Path) -> tuple[str, object] | None:
    """The feed-sync lease as stored in the data folder's database."""
    db = Database(f"sqlite:///{data / 'dockwatch.db'}")
    try:
        with SqlStore(db).read() as uow:
            return uow.vulns.lease("feed-sync")
    finally:
        db.close()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_server_stopped_in_a_sync_leaves_the_next_sync_free_to_run(
    upstream: Upstream, tmp_path: Path, sig: signal.Signals
) -> None:
    """The server is stopped while its scheduled sync downloads. Stopped (SIGTERM), it ends
    the sync and gives the lease back; killed, it cannot, and `db sync` on the same host sees
    that the holder is gone. Either way `db sync` runs at once, not 30 minutes later."""
    _publish(upstream, tmp_path, "v1", _osv("PYSEC-9-1", "alpha", "2.0"))
    resource = upstream.resources["/osv/PyPI/all.zip"]
    resource.asked, resource.gate = threading.Event(), threading.Event()
    env = {
        "DOCKWATCH_SYNC_INTERVAL": "3600",
        "DOCKWATCH_FEEDS": "osv:PyPI",
        "DOCKWATCH_FEED_URLS": f"osv:PyPI={upstream.url('/osv/PyPI/all.zip')}",
    }
    data = tmp_path / "data"
    server = start_dockwatch(data, env=env)
    try:
        assert resource.asked.wait(60), "the scheduled sync at start never asked for the feed"
        held = _lease(data)
        assert held is not None and held[0].split(":")[1] == str(server.proc.pid)
        server.proc.send_signal(sig)
        _wait("the server to stop listening", lambda: not _listening(server.port), 30)
        resource.gate.set()  # the download ends now, after the API has stopped
        assert server.proc.wait(timeout=60) is not None
    finally:
        resource.gate.set()
        server.stop()
    if sig == signal.SIGTERM:
        assert server.proc.returncode == 0  # a stop, not a death by the signal
        assert "dockwatch: stopped" in server.log.read_text()
        assert _lease(data) is None  # given back by the process itself
    else:
        assert _lease(data) is not None  # left behind
    out = dockwatch("db", "sync", "--data", str(data), "--feed", "osv:PyPI", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("osv:PyPI: ")
    taken_over = "lease taken over from" in out.stderr
    assert taken_over == (sig == signal.SIGKILL), out.stderr
