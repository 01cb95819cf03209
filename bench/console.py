"""Console render time: the findings page against the JSON listing, on the findings benchmark's
data set (`bench/findings.py`'s `build_registry`: the same bulk load, images and repositories).

`dockwatch serve` serves the data folder; the benchmark signs in to the console through its
form, then, after a warm-up, times `--reps` sequential requests of each pair in the same run:
the console's `/console/findings` page (HTML, 50 rows) and the `/api/v1/findings` listing of the
same criteria and size (JSON, `maxResults=50`), for the first page, a filtered page (severity
CRITICAL in one repository) and the keyset next page (the console's "Next" link, the listing's
`nextToken`). It prints p50/p95 of each, the console/JSON ratio of the p95s, and MET or MISSED
for the issue's target: console page p95 <= 100 ms. The issue's size is `--findings 1000000`.

    python bench/console.py [--findings 100000] [--images N] [--reps 30] [--keep | --data DIR]
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.servers import PASSWORD, USERNAME, Server, start_dockwatch  # noqa: E402

from bench.findings import build_registry, p95, stored_account, timed  # noqa: E402

TARGET_MS = 100.0
PAGE = 50
"""The console's findings page size; the JSON listing is asked for as many."""
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')
NEXT = re.compile(r'href="(/console/findings\?[^"]*nextToken=[^"]*)"')


def sign_in(client: httpx.Client) -> None:
    """Sign in through the console's form (the client keeps the session cookie)."""
    form = client.get("/console/login")
    token = CSRF.search(form.text)
    if token is None:
        raise RuntimeError("the sign-in page has no CSRF token")
    answer = client.post(
        "/console/login",
        data={"csrf_token": token.group(1), "username": USERNAME, "password": PASSWORD},
    )
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in answered {answer.status_code}")


def pairs(
    client: httpx.Client,
) -> list[tuple[str, Callable[[], httpx.Response], Callable[[], httpx.Response]]]:
    """(name, console call, JSON call) of the measured pages; the filtered page is that of the
    repository of the listing's first finding (so it is never empty)."""
    get = client.get
    first = get("/console/findings")
    found = NEXT.search(first.text)
    if found is None:
        raise RuntimeError("the console's first findings page has no next link")
    console_next = html.unescape(found.group(1))
    listing = get("/api/v1/findings", params={"maxResults": PAGE})
    listing.raise_for_status()
    body = listing.json()
    token = body["nextToken"]
    repository = body["findings"][0]["resources"][0]["details"]["awsEcrContainerImage"][
        "repositoryName"
    ]
    filtered = {"severity": "CRITICAL", "ecrImageRepositoryName": repository}
    return [
        (
            "first page",
            lambda: get("/console/findings"),
            lambda: get("/api/v1/findings", params={"maxResults": PAGE}),
        ),
        (
            "filtered (CRITICAL, its repository)",
            lambda: get("/console/findings", params=filtered),
            lambda: get("/api/v1/findings", params={**filtered, "maxResults": PAGE}),
        ),
        (
            "keyset next page",
            lambda: get(console_next),
            lambda: get("/api/v1/findings", params={"maxResults": PAGE, "nextToken": token}),
        ),
    ]


def measure(server: Server, reps: int) -> int:
    """Print the table; 1 when a console page misses the target."""
    with server.client(timeout=120.0) as client:
        deadline = time.monotonic() + 300
        while client.get("/healthz").json().get("scanner") != "ready":
            if time.monotonic() > deadline:
                raise TimeoutError("the scanner did not get ready")
            time.sleep(0.1)
        sign_in(client)
        plan = pairs(client)
        for _name, console_call, json_call in plan:  # warm-up
            timed(console_call, 3)
            timed(json_call, 3)
        print(
            f"\n{'page':38} {'console p50':>11} {'p95':>7} {'JSON p50':>9} {'p95':>7} "
            f"{'ratio':>6}  target p95 <= {TARGET_MS:.0f} ms   (n={reps}, ms)"
        )
        missed = 0
        for name, console_call, json_call in plan:
            page_ms, json_ms = timed(console_call, reps), timed(json_call, reps)
            page_p95, json_p95 = p95(page_ms), p95(json_ms)
            verdict = "MET" if page_p95 <= TARGET_MS else "MISSED"
            missed += verdict == "MISSED"
            print(
                f"{name:38} {statistics.median(page_ms):11.1f} {page_p95:7.1f} "
                f"{statistics.median(json_ms):9.1f} {json_p95:7.1f} "
                f"{page_p95 / json_p95:6.2f}  {verdict}"
            )
    return 1 if missed else 0


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--findings", type=int, default=100_000, help="the issue's size: 1000000")
    ap.add_argument("--images", type=int, default=None, help="default: findings / 100")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--keep", action="store_true", help="keep the data folder (path printed)")
    ap.add_argument("--data", type=Path, help="a data folder built by an earlier --keep run")
    args = ap.parse_args()
    images = args.images or max(40, args.findings // 100)
    work = Path(tempfile.mkdtemp(prefix="dockwatch-console-bench-"))
    data = args.data or work / "data"
    server: Server | None = None
    try:
        if args.data is None:
            print(f"building {images} images / {args.findings} findings in {data}", file=sys.stderr)
            facts = build_registry(data, images, args.findings)
            print(
                f"built: {facts['images']} images, {facts['findings']} findings, "
                f"{facts['db_mb']:.0f} MB; bulk load {facts['load_s']:.1f} s"
            )
        # the server is the tenant whose registry the folder holds (as `bench/findings.py`
        # serves it: a folder it kept belongs to a real 12-digit account)
        server = start_dockwatch(data, env={"DOCKWATCH_ACCOUNT_ID": stored_account(data)})
        return measure(server, args.reps)
    finally:
        if server is not None:
            server.stop()
        if args.keep and args.data is None:
            print(f"data kept in {data}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
