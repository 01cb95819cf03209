"""Services per tenant and the worker across tenants (in process, real SQLite store, controlled
clock): two accounts share one data folder; each sees only its own repositories, its jobs run
with its own scanning configuration, an advisory delta rescans the monitored images of every
tenant, and a tenant's webhooks receive only its events. Expected findings come from the
advisories the test imports."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dockwatch.app import Services, build, services_for
from dockwatch.clock import ControlledClock
from dockwatch.config import Settings
from dockwatch.events import subscriptions
from dockwatch.model.identity import Tenant
from dockwatch.registry.errors import NameUnknown
from dockwatch.scan.jobs import ScanImage, decode, encode
from dockwatch.storage.sql import finding_repo
from dockwatch.storage.sql.registry_repo import SqlRegistryRepo
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.builders.layers import Image, make_image, make_layer
from tests.builders.push import push_image

T0 = datetime(2031, 7, 1, 9, 0, tzinfo=UTC)
B = Tenant("222222222222", "us-east-1")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build(Settings(data_dir=tmp_path / "d", test_mode=True, webhook_allow="127.0.0.1/32"))
    assert isinstance(built.clock, ControlledClock)
    built.clock.set(T0)
    try:
        yield built
    finally:
        built.close()


def _advisory(services: Services, tmp: Path, vid: str, package: str) -> None:
    folder = tmp / vid
    folder.mkdir()
    record = {
        "id": vid,
        "modified": "2031-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9"}]}],
            }
        ],
    }
    (folder / f"{vid}.json").write_text(json.dumps(record))
    import_paths(VulnDb(services.store, services.clock), [folder])


def _image(*packages: str) -> Image:
    files = {
        f"usr/lib/python3/site-packages/{p}-1.0.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {p}\nVersion: 1.0\n"
        )
        for p in packages
    }
    return make_image([make_layer(files)])


def _vulns(view: Services, repo: str, digest: str) -> set[str]:
    """Active vulnerability ids of one image of the view's tenant."""
    with view.db.read() as conn:
        r = SqlRegistryRepo(conn).get_repository(view.tenant, repo)
        assert r is not None
        found = finding_repo.findings_of(conn, r.id, digest)
    return {f.vulnerability_id for f in found if f.status == "ACTIVE"}


def _scan_type(view: Services, repo: str, digest: str) -> str | None:
    row = view.registry.ctx.repository(repo)
    with view.store.read() as uow:
        state = uow.scans.get_scan(row.id, digest)
    return None if state is None else state.scan_type


def test_views_share_backends_and_bind_the_tenant(services: Services) -> None:
    view = services_for(services, B)
    assert services.for_tenant(services.tenant) is services
    assert services.for_tenant(B) is view  # cached: one scan service and pull gate per tenant
    assert view.tenant == B
    assert view.registry.ctx.tenant == B and view.scanner.tenant == B
    assert view.pull_gate.tenant == B
    for shared in ("db", "store", "blobs", "clock", "settings", "worker", "webhooks"):
        assert getattr(view, shared) is getattr(services, shared), shared
    assert view.scanner.index is services.scanner.index
    assert view.registry_tokens is services.registry_tokens


def test_an_account_sees_only_its_repositories(services: Services) -> None:
    view = services.for_tenant(B)
    push_image(view, "only-b", _image("flask"))
    push_image(services, "only-a", _image("django"))
    assert view.registry.ctx.repository("only-b").name == "only-b"
    with pytest.raises(NameUnknown):
        services.registry.ctx.repository("only-b")
    with pytest.raises(NameUnknown):
        view.registry.ctx.repository("only-a")
    with services.store.read() as uow:
        assert [r.name for r in uow.registry.repository_rows(B)] == ["only-b"]


def test_jobs_run_with_their_tenants_configuration(services: Services, tmp_path: Path) -> None:
    _advisory(services, tmp_path, "PYSEC-2031-1", "requests")
    view = services.for_tenant(B)
    view.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
    image = _image("requests")
    digest_b = push_image(view, "app", image)
    digest_a = push_image(services, "app", image)
    assert digest_a == digest_b
    services.worker.drain()
    # B is under continuous enhanced scanning; A keeps the default, BASIC with scan on push off
    assert _scan_type(view, "app", digest_b) == "ENHANCED"
    assert _vulns(view, "app", digest_b) == {"PYSEC-2031-1"}
    assert _scan_type(services, "app", digest_a) is None
    assert _vulns(services, "app", digest_a) == set()


def test_an_advisory_delta_rescans_every_tenants_monitored_images(
    services: Services, tmp_path: Path
) -> None:
    view = services.for_tenant(B)
    view.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
    digest = push_image(view, "app", _image("urllib3"))
    services.worker.drain()
    assert _vulns(view, "app", digest) == set()
    _advisory(services, tmp_path, "PYSEC-2031-7", "urllib3")  # the default tenant is BASIC
    services.worker.drain()
    assert _vulns(view, "app", digest) == {"PYSEC-2031-7"}


def test_job_documents_carry_their_tenant() -> None:
    job = ScanImage("app", "sha256:" + "a" * 64, B)
    doc = json.loads(encode(job))
    assert (doc["accountId"], doc["region"]) == (B.account_id, B.region)
    assert decode("scan", encode(job)) == job
    # a document queued before jobs carried tenants belongs to the default tenant
    legacy = decode("scan", json.dumps({"repository": "app", "digest": job.digest}))
    assert legacy == ScanImage("app", job.digest) and legacy.tenant is None


class _Receiver:
    """Records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.bodies.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_tenants_webhooks_receive_only_its_events(services: Services) -> None:
    to_a, to_b = _Receiver(), _Receiver()
    try:
        hooks = services.webhooks
        for tenant, receiver in ((services.tenant, to_a), (B, to_b)):
            subscriptions.create(
                hooks.store, services.clock, tenant, {"url": receiver.url},
                box=hooks.box, egress=hooks.egress,
            )  # fmt: skip
        push_image(services.for_tenant(B), "b-app", _image("flask"), tag="v1")
        push_image(services, "a-app", _image("django"), tag="v1")
        services.worker.drain()
        hooks.drain()
    finally:
        to_a.close()
        to_b.close()
    assert to_a.bodies and to_b.bodies
    assert {b["account"] for b in to_a.bodies} == {services.tenant.account_id}
    assert {b["account"] for b in to_b.bodies} == {B.account_id}
    assert "b-app" not in json.dumps(to_a.bodies) and "a-app" not in json.dumps(to_b.bodies)


def test_periodic_passes_run_for_every_tenant(services: Services, tmp_path: Path) -> None:
    _advisory(services, tmp_path, "PYSEC-2031-9", "jinja2")
    view = services.for_tenant(B)
    view.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
    view.scanner.put_ecr_configuration({"rescanDuration": "DAYS_14"})
    digest = push_image(view, "app", _image("jinja2"))
    services.worker.drain()
    services.worker.periodic()
    assert _vulns(view, "app", digest) == {"PYSEC-2031-9"}
    assert isinstance(services.clock, ControlledClock)
    services.clock.advance(timedelta(days=15))  # past B's 14-day re-scan duration
    services.worker.periodic()
    row = view.registry.ctx.repository("app")
    with view.store.read() as uow:
        state = uow.scans.get_scan(row.id, digest)
    assert state is not None
    assert (state.status_code, state.reason) == ("INACTIVE", "SCAN_ELIGIBILITY_EXPIRED")
    assert _vulns(view, "app", digest) == set()  # its findings are closed
