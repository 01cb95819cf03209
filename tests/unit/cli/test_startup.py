"""What a `dockwatch sbom` process imports: only what cataloguing one image needs; a
`dockwatch db` or `dockwatch migrate` one: only the database; and a `dockwatch serve` before it
answers: not what registry clients never call.

Each command runs in a fresh interpreter (the test process has imported everything already) and
reports the modules it loaded (`sys.modules`, less the None entries that block imports); the server's, the database's and the findings' libraries, and
the parsers of formats the image does not hold, must not be there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders.layers import dpkg_stanza, dpkg_status, make_image, make_layer, write_oci_layout

#: Imported by no `dockwatch sbom` of an image without Python, npm, Java, Rust or .NET manifests.
NEVER = (
    "sqlalchemy",
    "starlette",
    "uvicorn",
    "jinja2",
    "botocore",
    "boto3",
    "cyclonedx",
    "spdx_tools",
    "rich",
    "click",
    "pygments",
    "yaml",
    "cvss",
    "packaging.metadata",
    "packaging.requirements",
    "packaging.utils",
    "importlib.metadata",
    "http.server",
    "xml.etree",
    "tomllib",
    "sqlite3",
    "dockwatch.app",
    "dockwatch.api",
    "dockwatch.storage",
    "dockwatch.findings",
    "dockwatch.match",
    "dockwatch.vulndb",
    "dockwatch.scan",
)

RUN = """
import json, sys
from dockwatch.cli.main import main
try:
    status = main(sys.argv[1:])
except SystemExit as exc:
    status = exc.code
print(json.dumps({"status": status, "modules": sorted(n for n, m in sys.modules.items() if m)}))
"""


def modules_after(*argv: str, env: dict[str, str] | None = None) -> tuple[int, set[str]]:
    """Exit status and `sys.modules` of `dockwatch ARGV` run in a fresh interpreter (with
    `env` over this process's environment)."""
    proc = subprocess.run(
        [sys.executable, "-c", RUN, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return report["status"], set(report["modules"])


def loaded(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(f"{name}.") for m in modules)


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    layer = make_layer(
        {
            "etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
            "var/lib/dpkg/status": dpkg_status(dpkg_stanza("libfoo1", "1.0-1", source="foo")),
        }
    )
    return write_oci_layout(tmp_path / "img", [make_image([layer])], tag="latest")


def test_sbom_of_an_os_image_imports_no_server_database_or_other_format(
    layout: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sbom.json"
    status, modules = modules_after("sbom", f"oci:{layout}:latest", "--quiet", "-o", str(out))
    assert status == 0
    packages = json.loads(out.read_text())["packages"]
    assert [(p["name"], p["version"]) for p in packages] == [("libfoo1", "1.0-1")]
    assert "dockwatch.catalog.service" in modules  # the run did catalogue
    assert [name for name in NEVER if loaded(modules, name)] == []
    # nor the registry client's networking: it loads when a `docker://` client is built
    assert [name for name in ("httpx", "ssl", "http.client") if loaded(modules, name)] == []


def test_sbom_help_imports_no_catalog_code() -> None:
    status, modules = modules_after("sbom", "--help")
    assert status == 0
    assert [name for name in (*NEVER, "dockwatch.catalog") if loaded(modules, name)] == []


def _no_proxy() -> dict[str, str]:
    """This environment without its proxy variables (any case), as empty values."""
    return {k: "" for k in os.environ if k.lower() in ("http_proxy", "https_proxy", "all_proxy")}


def test_sbom_from_a_registry_loads_no_httpx() -> None:
    # port 1 on the loopback refuses the connection at once: the client is built, nothing sent
    status, modules = modules_after(
        "sbom", "docker://127.0.0.1:1/x:latest", "--quiet", env=_no_proxy()
    )
    assert status == 2
    assert "dockwatch.image.pull_http" in modules
    assert [
        name for name in ("httpx", "httpcore", "h11", "urllib.request") if loaded(modules, name)
    ] == []


def test_sbom_through_a_proxy_loads_httpx_without_its_command_line_tool() -> None:
    # the proxy is never reached: port 1 refuses at once
    env = {**_no_proxy(), "HTTPS_PROXY": "http://127.0.0.1:1", "NO_PROXY": ""}
    status, modules = modules_after("sbom", "docker://127.0.0.1:1/x:latest", "--quiet", env=env)
    assert status == 2
    assert "httpx" in modules
    assert [name for name in ("httpx._main", "click", "rich", "pygments") if name in modules] == []


#: Imported by no `dockwatch db` or `dockwatch migrate`: they need the database alone.
NEVER_FOR_THE_DATABASE = (
    "dockwatch.app",
    "dockwatch.api",
    "dockwatch.registry",
    "dockwatch.scan",
    "dockwatch.catalog",
    "dockwatch.match",
    "dockwatch.events",
    "dockwatch.pullpolicy",
    "starlette",
    "uvicorn",
    "jinja2",
    "botocore",
)


@pytest.mark.parametrize("argv", [("db", "status"), ("migrate",)], ids=["db-status", "migrate"])
def test_database_commands_import_no_server(argv: tuple[str, ...], tmp_path: Path) -> None:
    status, modules = modules_after(*argv, "--data", str(tmp_path / "data"))
    assert status == 0
    assert "dockwatch.store_root" in modules
    assert [name for name in NEVER_FOR_THE_DATABASE if loaded(modules, name)] == []


#: What a registry client never calls: made once `serve` listens, not before its first answer.
MADE_ONCE_LISTENING = (
    "botocore",  # the AWS APIs' models and signer
    "dockwatch.api.aws.protocol",
    "dockwatch.api.console.app",  # the console's pages
    "jinja2",
    "dockwatch.feeds",  # the feed scheduler's feeds
    "dockwatch.catalog.dpkg",  # the cataloguers, which the embedded worker's first scan loads
    "httpx",  # the client of webhook deliveries and feed downloads
    "prometheus_client",  # the metrics' series, which record a request after its answer
    "dockwatch.api.v1.routes",  # the JSON API's operations and its OpenAPI document
)

SERVE_PROBE = """
import json, sys, threading
from dockwatch.cli import serve
from dockwatch.cli.main import main

real_init = serve._Server.__init__

def probed(self, config, listening):
    def probe():
        before = sorted(n for n, m in sys.modules.items() if m)
        listening()
        def after():
            for thread in threading.enumerate():
                if thread.name == "start":  # it starts the worker, then waits for the warm-up
                    thread.join()
            now = sorted(n for n, m in sys.modules.items() if m)
            print(json.dumps({"before": before, "after": now}), flush=True)
            self.should_exit = True
        threading.Thread(target=after).start()
    real_init(self, config, probe)

serve._Server.__init__ = probed
sys.exit(main(sys.argv[1:]))
"""


def _modules_of_a_serve(tmp_path: Path, database_url: str | None) -> tuple[set[str], set[str]]:
    """The modules `serve` has loaded when it starts listening, and once its start thread is
    done."""
    from tests.support.servers import free_port

    env = {
        **os.environ,
        "DOCKWATCH_USERNAME": "admin",
        "DOCKWATCH_PASSWORD": "a-long-password",
        "DOCKWATCH_SYNC_INTERVAL": "0",
    }
    if database_url is not None:
        env["DOCKWATCH_DATABASE_URL"] = database_url
    argv = ["serve", "--data", str(tmp_path / "data"), "--port", str(free_port())]
    proc = subprocess.run(
        [sys.executable, "-c", SERVE_PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return set(report["before"]), set(report["after"])


def test_serve_answers_before_it_loads_what_registry_clients_never_call(tmp_path: Path) -> None:
    before, after = _modules_of_a_serve(tmp_path, None)
    assert [name for name in MADE_ONCE_LISTENING if loaded(before, name)] == []
    assert [name for name in MADE_ONCE_LISTENING if not loaded(after, name)] == []
    assert "jsonschema" not in before  # compiled by the first request body that has a schema
    assert not loaded(before, "cryptography")  # by the first webhook or access key secret
    assert not loaded(before, "cvss")  # by the first vector scored
    # on SQLite, never: PostgreSQL's dialect imports every one of its drivers' modules
    assert not loaded(after, "sqlalchemy.dialects.postgresql")


def test_serve_on_postgresql_never_loads_sqlites_dialect(tmp_path: Path, postgres_url: str) -> None:
    before, after = _modules_of_a_serve(tmp_path, postgres_url)
    assert loaded(before, "sqlalchemy.dialects.postgresql")
    assert not loaded(after, "sqlalchemy.dialects.sqlite")


def test_serve_refuses_unknown_feed_names_before_it_listens(tmp_path: Path) -> None:
    from tests.support.servers import free_port

    env = {**os.environ, "DOCKWATCH_FEEDS": "osv:PyPI,no-such-feed", "DOCKWATCH_SYNC_INTERVAL": "0"}
    port = free_port()
    argv = ["serve", "--data", str(tmp_path / "data"), "--port", str(port), "--no-auth"]
    proc = subprocess.run(
        [sys.executable, "-m", "dockwatch", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 2
    assert "DOCKWATCH_FEEDS names unknown feeds: no-such-feed" in proc.stderr
    assert "serving" not in proc.stderr
