"""Real servers for tests: dockwatch (`dockwatch serve` in a subprocess) and distribution.

Both listen on 127.0.0.1 on a free port, keep their data in a temp folder, and stop with the
test. Tests talk to them with real HTTP clients; nothing is mocked.

The suite runs under pytest-xdist beside other workers and their servers, so a server is given
`START_TIMEOUT` seconds to answer (DOCKWATCH_TEST_START_TIMEOUT; a loaded 2-core machine takes
far longer than an idle one to import and migrate).
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .programs import require

USERNAME = "tester"
PASSWORD = "s3cret-pass"

START_TIMEOUT = float(os.environ.get("DOCKWATCH_TEST_START_TIMEOUT", "300"))
"""Seconds a test server may take to answer its first request."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str, timeout: float = START_TIMEOUT, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll `url` until it answers (any status) or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            httpx.get(url, timeout=1.0, verify=False)
            return
        except httpx.HTTPError as exc:
            last = exc
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last}")


@dataclass
class Server:
    """A running registry server under test."""

    kind: str
    """`dockwatch` or `distribution`."""
    port: int
    data: Path
    proc: subprocess.Popen[bytes]
    auth: tuple[str, str] | None
    log: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    scheme: str = "http"

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:PORT."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        """HOST:PORT as image references spell it."""
        return f"127.0.0.1:{self.port}"

    def client(self, **kwargs: object) -> httpx.Client:
        """An HTTP client with the server's credentials."""
        kwargs.setdefault("timeout", 60.0)
        return httpx.Client(base_url=self.url, auth=self.auth, **kwargs)  # type: ignore[arg-type]

    def skopeo_creds(self) -> list[str]:
        """skopeo's credential flag for this server, if it needs one."""
        return [] if self.auth is None else ["--creds", f"{self.auth[0]}:{self.auth[1]}"]

    @property
    def database_url(self) -> str | None:
        """The server's `DOCKWATCH_DATABASE_URL` (None: SQLite in its data folder)."""
        return self.extra_env.get("DOCKWATCH_DATABASE_URL")

    def outbox_payloads(self, event_type: str) -> list[dict[str, object]]:
        """The JSON payloads of the server's outbox events of one type, oldest first, read
        from its database directly (SQLite file or PostgreSQL)."""
        import json

        if self.database_url is None:
            import sqlite3

            db = sqlite3.connect(f"file:{self.data / 'dockwatch.db'}?mode=ro", uri=True)
            try:
                rows = db.execute(
                    "SELECT payload FROM outbox WHERE event_type = ? ORDER BY id", (event_type,)
                ).fetchall()
            finally:
                db.close()
        else:
            import psycopg

            dsn = self.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
            with psycopg.connect(dsn) as conn:
                rows = conn.execute(
                    "SELECT payload FROM outbox WHERE event_type = %s ORDER BY id", (event_type,)
                ).fetchall()
        return [json.loads(payload) for (payload,) in rows]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (SIGKILL to simulate a crash) and wait for it."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_dockwatch(
    data: Path,
    *,
    port: int | None = None,
    auth: bool = True,
    env: dict[str, str] | None = None,
    test_mode: bool = True,
    extra_args: tuple[str, ...] = (),
    scheme: str = "http",
    startup_timeout: float | None = None,
    database_url: str | None = None,
) -> Server:
    """`dockwatch serve` on 127.0.0.1 in test mode, with fixed test credentials; with
    `database_url`, on that database (`DOCKWATCH_DATABASE_URL`, kept in `extra_env` so that
    CLI commands run beside the server can use it too). Without `port`, a free one; should
    another process take it first, the server starts again on another."""
    start = functools.partial(
        _start_dockwatch, data, auth=auth, env=env, test_mode=test_mode, extra_args=extra_args,
        scheme=scheme, startup_timeout=startup_timeout, database_url=database_url,
    )  # fmt: skip
    if port is not None:
        return start(port)
    for _ in range(2):
        try:
            return start(free_port())
        except PortTaken:
            continue
    return start(free_port())


class PortTaken(RuntimeError):
    """Another process took the port before the server could listen on it."""


def _start_dockwatch(
    data: Path,
    port: int,
    *,
    auth: bool,
    env: dict[str, str] | None,
    test_mode: bool,
    extra_args: tuple[str, ...],
    scheme: str,
    startup_timeout: float | None,
    database_url: str | None,
) -> Server:
    if database_url is not None:
        env = {**(env or {}), "DOCKWATCH_DATABASE_URL": database_url}
    data.mkdir(parents=True, exist_ok=True)
    log = data.parent / f"{data.name}-dockwatch-{port}.log"
    full_env = {
        **os.environ,
        "DOCKWATCH_USERNAME": USERNAME,
        "DOCKWATCH_PASSWORD": PASSWORD,
        "DOCKWATCH_SYNC_INTERVAL": "0",  # no scheduled feed syncs to the real upstreams
        **(env or {}),
    }
    args = [sys.executable, "-m", "dockwatch", "serve", "--data", str(data), "--port", str(port)]
    if test_mode:
        args.append("--test-mode")
    args.extend(extra_args)
    if not auth:
        args.append("--no-auth")
    with log.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=full_env)
    server = Server(
        "dockwatch",
        port,
        data,
        proc,
        (USERNAME, PASSWORD) if auth else None,
        log,
        env or {},
        scheme,
    )
    try:  # a loaded 2-core CI machine can take most of a minute to import and migrate
        wait_http(f"{server.url}/healthz", timeout=startup_timeout or START_TIMEOUT, proc=proc)
        wait_listening(proc, port, timeout=startup_timeout or START_TIMEOUT)
    except PortTaken:
        server.stop(signal.SIGKILL)
        raise
    except Exception as exc:
        server.stop(signal.SIGKILL)
        raise RuntimeError(f"{exc}\n{log.read_text(errors='replace')[-4000:]}") from None
    return server


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the IPv4 sockets listening on `port` (Linux: /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
            found.add(inode)
    return found


def wait_listening(proc: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    """Wait until `proc` itself listens on `port`. `free_port` hands out a port nobody holds
    at that moment; another test's process may take it before `proc` binds it, and then
    that process answers `wait_http` in its place."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
        if proc.poll() is not None:
            if wanted:  # someone else listens there
                raise PortTaken(f"port {port} was taken before the server listened on it")
            raise RuntimeError(f"server exited with {proc.returncode}")
        fds = Path(f"/proc/{proc.pid}/fd")
        try:
            held = {os.readlink(fd) for fd in fds.iterdir()}
        except OSError:  # a descriptor closed while listed: look again
            held = set()
        if wanted & held:
            return
        time.sleep(0.05)
    raise TimeoutError(f"the server did not listen on port {port} within {timeout}s")


DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
compatibility:
  schema1:
    enabled: true
"""


def start_distribution(data: Path, *, port: int | None = None) -> Server:
    """Debian's docker-registry (CNCF distribution 2.8) on 127.0.0.1, storage in `data`."""
    binary = require("docker-registry")
    port = port or free_port()
    data.mkdir(parents=True, exist_ok=True)
    config = data / "config.yml"
    config.write_text(DISTRIBUTION_CONFIG.format(root=data / "storage", port=port))
    log = data / "registry.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [binary, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    server = Server("distribution", port, data, proc, None, log)
    try:
        wait_http(f"{server.url}/v2/", proc=proc)
    except Exception:
        server.stop(signal.SIGKILL)
        raise
    return server


@dataclass
class Worker:
    """A running `dockwatch worker` (no HTTP listener)."""

    data: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the worker (SIGKILL to simulate a crash) and wait for it."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_worker(data: Path, *, env: dict[str, str] | None = None) -> Worker:
    """`dockwatch worker --data DATA` in a subprocess; returns once it says it is running."""
    data.mkdir(parents=True, exist_ok=True)
    log = data.parent / f"{data.name}-worker.log"
    full_env = {**os.environ, "DOCKWATCH_SYNC_INTERVAL": "0", **(env or {})}
    args = [sys.executable, "-m", "dockwatch", "worker", "--data", str(data)]
    with log.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=full_env)
    worker = Worker(data, proc, log)
    deadline = time.monotonic() + 120
    while b"worker running" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            worker.stop(signal.SIGKILL)
            raise RuntimeError(log.read_text(errors="replace")[-4000:])
        time.sleep(0.05)
    return worker
