"""Separate processes on one data folder: `serve --no-worker` answers the API, `dockwatch
worker` scans; `migrate` on its own; the worker stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.builders.http_push import push_built_image
from tests.builders.layers import make_image, make_layer
from tests.support.cli import db_import, dockwatch
from tests.support.servers import free_port, start_dockwatch, wait_http

START = 300.0  # a loaded machine may take this long to start a server (imports)


def _start_worker(
    data: Path, metrics_port: int, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log = data.parent / f"worker-{metrics_port}.log"
    args = [
        sys.executable,
        "-m",
        "dockwatch",
        "worker",
        "--data",
        str(data),
        "--metrics-port",
        str(metrics_port),
    ]
    full_env = {**os.environ, "DOCKWATCH_SYNC_INTERVAL": "0", **(env or {})}
    with log.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=full_env)
    wait_http(f"http://127.0.0.1:{metrics_port}/healthz", timeout=120, proc=proc)
    return proc


def _until(check: Callable[[], Any], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


def _advisory_folder(tmp: Path) -> Path:
    folder = tmp / "advisories"
    folder.mkdir()
    record = {
        "id": "PYSEC-2026-901",
        "modified": "2026-11-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "gamma"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}
                ],
            }
        ],
    }
    (folder / "PYSEC-2026-901.json").write_text(json.dumps(record))
    return folder


def test_api_process_and_worker_process_share_one_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = dockwatch("migrate", "--data", str(data))
    assert out.returncode == 0, out.stderr
    assert "current schema" in out.stdout
    db_import(data, _advisory_folder(tmp_path))
    api = start_dockwatch(data, extra_args=("--no-worker", "--no-migrate"), startup_timeout=START)
    worker = _start_worker(data, free_port())
    try:
        meta = "Metadata-Version: 2.1\nName: gamma\nVersion: 1.5\n"
        layer = make_layer({"usr/lib/python3/site-packages/gamma-1.5.dist-info/METADATA": meta})
        with api.client() as c:
            health = c.get("/healthz")  # the API process runs no scanner of its own
            assert health.status_code == 200, health.text
            assert health.json()["status"] == "ok"
            assert health.json()["scanner"] == "not running in this process"
            r = c.put(
                "/api/v1/registry/scanning-configuration",
                json={"scanType": "ENHANCED", "rules": []},
            )
            assert r.status_code == 200, r.text
            push_built_image(c, "split/app", make_image([layer]), ["v1"])

            def found() -> set[str]:
                body = c.get("/api/v1/repositories/split/app/images/v1/findings").json()
                return {
                    f["packageVulnerabilityDetails"]["vulnerabilityId"]
                    for f in body["imageScanFindings"].get("enhancedFindings", [])
                }

            assert _until(found) == {"PYSEC-2026-901"}
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        api.stop()
    assert worker.returncode == 0


def test_worker_stops_on_sigterm_and_reports_health(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    worker = _start_worker(data, port)
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/healthz")
        assert r.status_code == 200
        assert (r.json()["database"], r.json()["blobStore"]) == ("ok", "ok")
        assert "dockwatch_jobs" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    assert code == 0
    log = (data.parent / f"worker-{port}.log").read_text()
    assert "worker stopped" in log


def test_worker_without_migration_asks_for_one(tmp_path: Path) -> None:
    """`DOCKWATCH_MIGRATE_AT_START=false` on an empty database: one clear line, exit 2."""
    out = dockwatch(
        "worker",
        "--data",
        str(tmp_path / "data"),
        env={"DOCKWATCH_MIGRATE_AT_START": "false"},
        timeout=120,
    )
    assert out.returncode == 2
    assert "run `dockwatch migrate` first" in out.stderr
    assert "Traceback" not in out.stderr


def test_serve_without_migration_asks_for_one(tmp_path: Path) -> None:
    """`serve --no-migrate` on a database never migrated: one clear line, exit 2."""
    out = dockwatch(
        "serve", "--data", str(tmp_path / "data"), "--no-migrate", "--port", str(free_port()),
        timeout=120,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.startswith("dockwatch: error: the database is not at the current schema")
    assert "run `dockwatch migrate` first" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1  # no traceback
