"""Run schemathesis against a fresh dockwatch server, both inside the caller's network namespace.

`tests/e2e/test_api_contract.py` runs this module under `unshare --net` after bringing up the
loopback interface, so the server and every request schemathesis makes see only 127.0.0.1:
nothing a generated input creates (a webhook URL, say) can reach out. The exit status is
schemathesis's; its report is printed.

    python -m tests.e2e.contract_run --data DIR --examples N --seconds T --seed S --report XML
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from tests.support.servers import PASSWORD, USERNAME, free_port, wait_http

LIMITS = {
    # schemathesis sends wrong and missing credentials on purpose (ignored_auth); the backoff
    # would then answer the test user's own requests 429 and hide the operations behind it
    "DOCKWATCH_AUTH_FREE_FAILURES_PER_ADDRESS": "1000000",
    "DOCKWATCH_AUTH_FREE_FAILURES_PER_USER": "1000000",
    # the namespace has no route out, so the SSRF guard may let any receiver be registered;
    # generated URLs name any address, and the guard's refusals are tested on their own
    "DOCKWATCH_WEBHOOK_ALLOW": "0.0.0.0/0,::/0",
}


def run(data: Path, examples: int, seconds: int, seed: int | None, report: Path) -> int:
    """Start the server, run every check over every operation, stop the server."""
    port = free_port()
    data.mkdir(parents=True, exist_ok=True)
    log = data.parent / "dockwatch.log"
    env = {
        **os.environ,
        **LIMITS,
        "DOCKWATCH_USERNAME": USERNAME,
        "DOCKWATCH_PASSWORD": PASSWORD,
        "DOCKWATCH_SYNC_INTERVAL": "0",
    }
    serve = [sys.executable, "-m", "dockwatch", "serve", "--data", str(data), "--port", str(port)]
    with log.open("ab") as out:
        server = subprocess.Popen(serve, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        # a loaded machine may take a while to import and migrate: wait longer than usual
        wait_http(f"{url}/healthz", timeout=300, proc=server)
        args = [
            sys.executable, "-m", "schemathesis.cli", "run", f"{url}/api/v1/openapi.json",
            "--auth", f"{USERNAME}:{PASSWORD}",
            "--checks", "all",
            "--mode", "all",
            "--max-examples", str(examples),
            "--max-time", str(seconds),
            "--workers", "1",  # one worker: no case deletes what another's scenario made
            "--no-color",
            "--report", "junit", "--report-junit-path", str(report),
        ]  # fmt: skip
        if seed is not None:
            args += ["--seed", str(seed)]
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.contract_hooks"}
        code = subprocess.run(args, env=env, check=False).returncode
        if code != 0:
            print(log.read_text(errors="replace")[-4000:])
        return code
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    """Parse the arguments, run, exit with schemathesis's status."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--examples", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=90)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--report", type=Path, required=True)
    opts = parser.parse_args()
    sys.exit(run(opts.data, opts.examples, opts.seconds, opts.seed, opts.report))


if __name__ == "__main__":
    main()
