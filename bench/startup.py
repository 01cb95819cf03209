"""Server start: how soon `dockwatch serve` answers, against CNCF distribution on the same machine.

Each repetition starts, in turn (the order alternating):
  - `dockwatch serve` on a data folder it has already initialized (the restart of a running
    registry: the database exists and is migrated, the match index file is written), with
    authentication and the embedded worker on, as `make serve` runs it;
  - `dockwatch serve` on an empty folder (the first start: it creates and migrates the database);
  - distribution (Debian's docker-registry) on empty storage, the peer.
The clock runs from the process's spawn to the first answer of `GET /v2/` (any status: 401 is
an answer), polled every 2 ms over a raw socket. For dockwatch, the time until each other API
has answered once is printed too: `/v2/` with the user's credentials (200 required: the
password checked), the JSON API (`GET /api/v1/repositories`), the console's login page, and
the ECR API (`POST /` with an unsigned `DescribeRepositories`, refused with an AWS error). Feed syncs are off (DOCKWATCH_SYNC_INTERVAL=0): this machine is offline, and a
sync's download is not start-up.

Target (issue: a server ready in half a second): the restart answers `/v2/` within 0.5 s
(median of the repetitions); the ratio to distribution is printed beside it. SQLite by default;
`--postgres` (a throwaway cluster) or `--database-url URL` run the same on PostgreSQL, each
start on a fresh database of it (bench/backends.py), and print the key figures side by side.

    python bench/startup.py [--reps 7] [--sqlite] [--postgres] [--database-url URL]
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.programs import require  # noqa: E402
from tests.support.servers import DISTRIBUTION_CONFIG, free_port  # noqa: E402

from bench.backends import Backend, add_arguments, backends, side_by_side  # noqa: E402

READY_TARGET_S = 0.5
POLL_S = 0.002
GIVE_UP_S = 120.0

V2 = b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
USERNAME, PASSWORD = "bench", "bench-password-1"
SIGNED_IN = "signed-in /v2/ (the user's password checked)"
V2_SIGNED_IN = (
    b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Basic "
    + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode())
    + b"\r\n\r\n"
)
JSON_API = b"GET /api/v1/repositories HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
CONSOLE = b"GET /console/login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
ECR_BODY = b"{}"
ECR = (
    b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    b"Content-Type: application/x-amz-json-1.1\r\n"
    b"X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.DescribeRepositories\r\n"
    b"Content-Length: 2\r\n\r\n" + ECR_BODY
)


def answer_status(port: int, request: bytes) -> int | None:
    """The status of one request, or None while nothing listens on `port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(request)
            head = conn.recv(64)
    except (ConnectionRefusedError, ConnectionResetError):
        return None
    if not head.startswith(b"HTTP/1."):
        return None
    return int(head.split(b" ", 2)[1])


def wait_answer(
    port: int,
    request: bytes,
    proc: subprocess.Popen[bytes],
    since: float,
    expect: int | None = None,
) -> float:
    """Seconds from `since` to the first answer of `request` on `port` (which must have the
    status `expect`, when given)."""
    while time.perf_counter() - since < GIVE_UP_S:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before answering")
        status = answer_status(port, request)
        if status is not None:
            if expect is not None and status != expect:
                raise RuntimeError(f"answered {status}, not {expect}")
            return time.perf_counter() - since
        time.sleep(POLL_S)
    raise TimeoutError(f"nothing answered on port {port} within {GIVE_UP_S:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def dockwatch_env(database_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "DOCKWATCH_USERNAME": USERNAME,
        "DOCKWATCH_PASSWORD": PASSWORD,
        "DOCKWATCH_SYNC_INTERVAL": "0",
    }
    if database_url is not None:
        env["DOCKWATCH_DATABASE_URL"] = database_url
    return env


def start_dockwatch(data: Path, database_url: str | None) -> tuple[float, dict[str, float]]:
    """(seconds to the first /v2/ answer, seconds to each other API's first answer), on
    SQLite in `data` or on `database_url`."""
    port = free_port()
    binary = str(Path(sys.executable).with_name("dockwatch"))
    args = [binary, "serve", "--data", str(data), "--port", str(port)]
    log = data.parent / f"{data.name}.log"
    env = dockwatch_env(database_url)
    with log.open("ab") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        ready = wait_answer(port, V2, proc, t0)
        others = {
            name: wait_answer(port, request, proc, t0, expect)
            for name, request, expect in (
                (SIGNED_IN, V2_SIGNED_IN, 200),
                ("JSON API", JSON_API, None),
                ("console", CONSOLE, None),
                ("ECR", ECR, None),
            )
        }
    except Exception as exc:
        raise RuntimeError(f"{exc}\n{log.read_text(errors='replace')[-3000:]}") from None
    finally:
        stop(proc)
    return ready, others


def start_distribution(data: Path) -> float:
    """Seconds to distribution's first /v2/ answer."""
    port = free_port()
    data.mkdir(parents=True)
    config = data / "config.yml"
    config.write_text(DISTRIBUTION_CONFIG.format(root=data / "storage", port=port))
    with (data / "registry.log").open("ab") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [require("docker-registry"), "serve", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        return wait_answer(port, V2, proc, t0)
    finally:
        stop(proc)


def spread(values: list[float]) -> str:
    return (
        f"{statistics.median(values) * 1000:.0f} ms "
        f"[{min(values) * 1000:.0f}-{max(values) * 1000:.0f}]"
    )


def measure(backend: Callable[[], Backend], reps: int, work: Path) -> tuple[str, dict[str, str]]:
    """Print the figures of one backend (each start on a fresh database of it, the restart
    on one kept); its name and key figures for `side_by_side`."""
    kept_on = backend()
    name = kept_on.name
    kept = work / f"{name}-kept"
    start_dockwatch(kept, kept_on.url)  # creates, migrates and writes the match index once
    restart: list[float] = []
    first: list[float] = []
    peer: list[float] = []
    others: dict[str, list[float]] = {}
    print(f"{name}: load average at start: {os.getloadavg()[0]:.2f}")
    for rep in range(reps):
        runs = ["restart", "first", "distribution"]
        for run in runs if rep % 2 == 0 else reversed(runs):
            if run == "restart":
                ready, answered = start_dockwatch(kept, kept_on.url)
                restart.append(ready)
                for what, seconds in answered.items():
                    others.setdefault(what, []).append(seconds)
            elif run == "first":
                first.append(start_dockwatch(work / f"{name}-new{rep}", backend().url)[0])
            else:
                peer.append(start_distribution(work / f"{name}-d{rep}"))
    ready = statistics.median(restart)
    verdict = "MET" if ready <= READY_TARGET_S else "MISSED"
    print(
        f"{name}: dockwatch serve, restart, first /v2/ answer: {spread(restart)}  "
        f"target <= {READY_TARGET_S * 1000:.0f} ms {verdict}"
    )
    for what, values in others.items():
        print(f"  first answer of the {what}: {spread(values)}")
    print(f"{name}: dockwatch serve, first start (creates the database): {spread(first)}")
    print(f"distribution, first /v2/ answer: {spread(peer)}")
    print(f"dockwatch restart / distribution: {ready / statistics.median(peer):.2f}x the time")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    signed_in = statistics.median(others[SIGNED_IN])
    return name, {
        "restart, first /v2/ (ms)": f"{ready * 1000:.0f}",
        "restart, signed-in /v2/ (ms)": f"{signed_in * 1000:.0f}",
        "first start (ms)": f"{statistics.median(first) * 1000:.0f}",
        "verdict (<= 500 ms)": verdict,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=7)
    add_arguments(ap)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dockwatch-startup-"))
    try:
        with backends(args) as asked:
            results = {}
            for backend in asked:
                name, figures = measure(backend, args.reps, work)
                results[name] = figures
        if len(results) > 1:
            side_by_side(results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
