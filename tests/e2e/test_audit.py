"""The audit log of a running server: API changes, /v2 deletes and CLI commands against its data
folder, all queryable over GET /api/v1/audit."""

from __future__ import annotations

import getpass

from tests.conformance.oci import push_image
from tests.support import cli
from tests.support.servers import USERNAME, Server


def test_changes_from_the_api_v2_and_the_cli_are_listed(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        digest, _ = push_image(c, "audited/app", "v1")
        assert c.delete("/v2/audited/app/manifests/v1").status_code == 202
        assert c.delete(f"/v2/audited/app/manifests/{digest}").status_code == 202
        body = {"ecrConfiguration": {"rescanDuration": "DAYS_7"}}
        assert c.put("/api/v1/configuration", json=body).status_code == 200
        out = cli.dockwatch("gc", "--data", str(dockwatch.data), "--grace-seconds", "0")
        assert out.returncode == 0, out.stderr
        events = c.get("/api/v1/audit").json()["auditEvents"]
        mine = c.get("/api/v1/audit", params={"principal": getpass.getuser()}).json()
    got = [(e["principal"], e["action"], e["resource"], e["status"]) for e in events]
    assert got == [
        (getpass.getuser(), "cli gc", got[0][2], 200),
        (USERNAME, "PUT /api/v1/configuration", "/api/v1/configuration", 200),
        (USERNAME, "DELETE /v2/{name}/manifests/{reference}", f"/v2/audited/app/manifests/{digest}", 202),
        (USERNAME, "DELETE /v2/{name}/manifests/{reference}", "/v2/audited/app/manifests/v1", 202),
        (USERNAME, "PUT /v2/{name}/manifests/{reference}", "/v2/audited/app/manifests/v1", 201),
        (getpass.getuser(), "cli serve: add user", f"user/{USERNAME}", 200),
    ]  # fmt: skip
    assert {e["sourceAddress"] for e in events[1:-1]} == {"127.0.0.1"}
    assert [e["action"] for e in mine["auditEvents"]] == ["cli gc", "cli serve: add user"]
