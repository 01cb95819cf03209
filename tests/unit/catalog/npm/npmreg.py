"""A throwaway npm registry on 127.0.0.1 so that the real `npm` writes lockfiles offline.

It serves packuments (`GET /<name>`, https://github.com/npm/registry/blob/main/docs/responses/package-metadata.md)
and tarballs built here, so `npm install --registry` resolves real semver ranges, nests conflicting
versions and writes package-lock.json v1/v2/v3 exactly as it would against registry.npmjs.org.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

#: (name, version, dependencies): the packages the registry publishes.
PUBLISHED: list[tuple[str, str, dict[str, str]]] = [
    ("@acme/util", "1.2.3", {}),
    ("plain", "0.1.0", {"dep": "^2.0.0"}),
    ("dep", "1.0.0", {}),
    ("dep", "2.0.0", {}),
    ("devonly", "2.0.0", {}),
]

APP = {
    "name": "app",
    "version": "1.0.0",
    "private": True,
    "dependencies": {"@acme/util": "^1.0.0", "plain": "^0.1.0", "dep": "^1.0.0"},
    "devDependencies": {"devonly": "^2.0.0"},
}

#: What npm must install for APP, worked out by hand from the ranges above.
RUNTIME = {("@acme/util", "1.2.3"), ("plain", "0.1.0"), ("dep", "1.0.0"), ("dep", "2.0.0")}
DEV = {("devonly", "2.0.0")}


def npm_available() -> bool:
    """Whether `npm` is on PATH."""
    return shutil.which("npm") is not None


def _tarball(name: str, version: str, deps: dict[str, str]) -> bytes:
    manifest = json.dumps(
        {"name": name, "version": version, "license": "MIT", "dependencies": deps}
    ).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("package/package.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    return buf.getvalue()


@contextmanager
def registry() -> Iterator[str]:
    """Serve PUBLISHED; yields the registry URL."""
    tarballs: dict[str, bytes] = {}
    packuments: dict[str, dict[str, object]] = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for name, version, deps in PUBLISHED:
        blob = _tarball(name, version, deps)
        fname = f"{name.replace('/', '-').lstrip('@')}-{version}.tgz"
        tarballs[f"/-/{fname}"] = blob
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode()
        doc = packuments.setdefault(name, {"name": name, "versions": {}, "dist-tags": {}})
        versions = doc["versions"]
        assert isinstance(versions, dict)
        versions[version] = {
            "name": name,
            "version": version,
            "dependencies": deps,
            "dist": {
                "tarball": f"{base}/-/{fname}",
                "integrity": integrity,
                "shasum": hashlib.sha1(blob).hexdigest(),
            },
        }
        doc["dist-tags"] = {"latest": version}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = urllib.parse.unquote(self.path.split("?", 1)[0])
            if path in tarballs:
                body, ctype = tarballs[path], "application/octet-stream"
            elif path.lstrip("/") in packuments:
                body, ctype = json.dumps(packuments[path.lstrip("/")]).encode(), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


def npm_install(workdir: Path, url: str, lockfile_version: int) -> Path:
    """`npm install` APP against the registry at `url`; returns the project directory."""
    project = workdir / f"app-v{lockfile_version}"
    project.mkdir()
    (project / "package.json").write_text(json.dumps(APP))
    subprocess.run(
        [
            "npm", "install", "--registry", url, "--no-audit", "--no-fund", "--ignore-scripts",
            "--cache", str(workdir / "npm-cache"), "--lockfile-version", str(lockfile_version),
        ],
        cwd=project, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return project


def tool_available(tool: str) -> bool:
    """yarn 1 or pnpm, installed from npm (`npm install -g yarn@1 pnpm@9`). Debian's `yarnpkg`
    needs Debian's own nodejs module tree and does not run on another node build."""
    return shutil.which(tool) is not None


def tool_install(workdir: Path, url: str, tool: str) -> Path:
    """`yarn install` (classic) or `pnpm install` of APP against the registry at `url`."""
    project = workdir / f"app-{tool}"
    project.mkdir()
    (project / "package.json").write_text(json.dumps(APP))
    if tool == "yarn":
        cmd = ["yarn", "install", "--registry", url, "--non-interactive", "--ignore-scripts",
               "--cache-folder", str(workdir / "yarn-cache")]  # fmt: skip
    else:
        cmd = ["pnpm", "install", "--registry", url, "--ignore-scripts",
               "--store-dir", str(workdir / "pnpm-store")]  # fmt: skip
    env = {**os.environ, "HOME": str(workdir)}
    subprocess.run(cmd, cwd=project, env=env, check=True, capture_output=True, timeout=300)
    return project
