"""The registry user `serve` sets up once it listens: the password of the settings signs in from
the first request after a restart (the one it replaced does not), and a first start without
configured credentials prints a generated user that signs in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import servers


def test_a_password_changed_in_the_settings_signs_in_from_the_first_request(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    servers.start_dockwatch(data).stop()  # the user made with the first password
    changed = "a-changed-password-2"
    server = servers.start_dockwatch(data, env={"DOCKWATCH_PASSWORD": changed})
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            assert c.get("/v2/", auth=(servers.USERNAME, changed)).status_code == 200
            assert c.get("/v2/", auth=(servers.USERNAME, servers.PASSWORD)).status_code == 401
    finally:
        server.stop()


def test_a_first_start_without_credentials_prints_a_user_that_signs_in(tmp_path: Path) -> None:
    port = servers.free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in ("DOCKWATCH_USERNAME", "DOCKWATCH_PASSWORD")
    }
    env["DOCKWATCH_SYNC_INTERVAL"] = "0"
    log = tmp_path / "serve.log"
    argv = [sys.executable, "-m", "dockwatch", "serve", "--data", str(tmp_path / "data")]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*argv, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        url = f"http://127.0.0.1:{port}"
        servers.wait_http(f"{url}/healthz", timeout=servers.START_TIMEOUT, proc=proc)
        deadline = time.monotonic() + servers.START_TIMEOUT
        while not (found := re.search(r"username: (\S+)\n  password: (\S+)", log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        username, password = found.groups()
        assert username == "dockwatch"
        with httpx.Client(base_url=url, timeout=60) as c:
            assert c.get("/v2/", auth=(username, password)).status_code == 200
            assert c.get("/v2/", auth=(username, password + "x")).status_code == 401
    finally:
        proc.terminate()
        proc.wait(30)
