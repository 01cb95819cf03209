"""The /api/v1 contract, checked by schemathesis against a real server with every check on.

The server and schemathesis run together in a new network namespace with only loopback up
(`unshare --net`), so nothing a generated request creates can reach another host. Positive
cases (schema-valid: must not be refused), negative ones (schema-violating: must be refused
with a 4xx), undeclared methods (405 with `Allow`), missing and wrong credentials, and every
answer's status, Content-Type, headers and body against the document. `--contract-examples`
sets the cases per operation, `--contract-seconds` the time budget, `--contract-seed` the seed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.programs import require

ROOT = Path(__file__).resolve().parents[2]


def _namespace_or_skip(unshare: str, ip: str) -> None:
    probe = subprocess.run(
        [unshare, "--net", ip, "link", "set", "lo", "up"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot make a network namespace here (needs root): {probe.stderr.strip()}")


@pytest.mark.slow
def test_schemathesis_finds_nothing(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    pytest.importorskip("schemathesis", reason="schemathesis (the test extra) is not installed")
    unshare, ip = require("unshare"), require("ip")
    _namespace_or_skip(unshare, ip)
    examples = int(request.config.getoption("--contract-examples"))
    seconds = int(request.config.getoption("--contract-seconds"))
    seed = int(request.config.getoption("--contract-seed"))
    report = tmp_path / "junit.xml"
    inner = (
        f"{ip} link set lo up && exec {sys.executable} -m tests.e2e.contract_run "
        f"--data {tmp_path / 'data'} --examples {examples} --seconds {seconds} --seed {seed} "
        f"--report {report}"
    )
    out = subprocess.run(
        [unshare, "--net", "sh", "-c", inner], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout[-20000:] + out.stderr[-5000:]
    assert report.exists() and "<testsuite" in report.read_text()


def test_the_namespace_has_only_loopback() -> None:
    """What the contract run relies on: inside `unshare --net`, loopback is the only link."""
    unshare, ip = require("unshare"), require("ip")
    _namespace_or_skip(unshare, ip)
    out = subprocess.run(
        [unshare, "--net", "sh", "-c", f"{ip} link set lo up && {ip} -o link show"],
        capture_output=True,
        text=True,
        check=True,
    )
    links = [line.split(":")[1].strip() for line in out.stdout.splitlines()]
    assert links == ["lo"]
