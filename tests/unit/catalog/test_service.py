"""catalog_image end to end: attribution across layers, whiteouts, the layer cache, the corpus
(ground truth in NAME.contents.txt), and hostile layers run under a 512 MB address-space cap."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import pytest

from dockwatch.catalog.service import ImageCataloguer, MemoryCatalogCache, catalog_image
from dockwatch.image.sources import open_source, resolve
from tests.builders.layers import (
    Layer,
    dpkg_stanza,
    dpkg_status,
    make_image,
    make_layer,
    tar_bytes,
    write_oci_layout,
)
from tests.builders.zips import lying_directory

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
CORPUS = Path(os.environ.get("DOCKWATCH_CORPUS", "/var/tmp/dockwatch-corpus"))
ROOT = Path(__file__).resolve().parents[3]


def base_layer() -> Layer:
    status = dpkg_status(
        dpkg_stanza("libc6", "2.36-9+deb12u4", source="glibc"),
        dpkg_stanza("libssl3", "3.0.11-1~deb12u2", source="openssl"),
        dpkg_stanza("zlib1g", "1:1.2.13.dfsg-1", source="zlib"),
        dpkg_stanza("tzdata", "2024a-0+deb12u1", arch="all"),
    )
    return make_layer(
        {
            "usr/lib/os-release": OS_RELEASE,
            "var/lib/dpkg/status": status,
            "var/lib/dpkg/info/libc6:amd64.list": "/lib/libc.so.6\n",
        },
        symlinks={"etc/os-release": "../usr/lib/os-release"},
    )


def apt_layer() -> Layer:
    """`apt-get install curl` + an upgrade of libssl3: dpkg rewrites the whole status file."""
    status = dpkg_status(
        dpkg_stanza("libc6", "2.36-9+deb12u4", source="glibc"),
        dpkg_stanza("libssl3", "3.0.13-1~deb12u1", source="openssl"),
        dpkg_stanza("zlib1g", "1:1.2.13.dfsg-1", source="zlib"),
        dpkg_stanza("tzdata", "2024a-0+deb12u1", arch="all"),
        dpkg_stanza("curl", "7.88.1-10+deb12u5"),
    )
    return make_layer({"var/lib/dpkg/status": status, "usr/bin/curl": b"\x7fELF"})


def test_second_layer_attribution(tmp_path: Path) -> None:
    base, apt = base_layer(), apt_layer()
    write_oci_layout(tmp_path / "img", [make_image([base, apt])])
    inv = catalog_image(f"oci:{tmp_path / 'img'}:latest")
    assert inv.distro is not None and (inv.distro.id, inv.distro.version_id) == ("debian", "12")
    layers = {p.name: p.layer_digest for p in inv.packages}
    # Expected from what apt_layer() changes, not from the code under test.
    assert layers == {
        "libc6": base.digest,
        "zlib1g": base.digest,
        "tzdata": base.digest,
        "libssl3": apt.digest,
        "curl": apt.digest,
    }
    assert {p.name: p.version for p in inv.packages}["libssl3"] == "3.0.13-1~deb12u1"
    assert [layer.diff_id for layer in inv.layers] == [base.diff_id, apt.diff_id]
    assert not inv.warnings


def test_whiteout_removes_package(tmp_path: Path) -> None:
    sd = "var/lib/dpkg/status.d"
    base = make_layer(
        {
            f"{sd}/libc6": dpkg_stanza("libc6", "2.36-9", status=None),
            f"{sd}/tzdata": dpkg_stanza("tzdata", "2024a", status=None),
        }
    )
    removal = make_layer({}, whiteouts=[f"{sd}/tzdata"])
    write_oci_layout(tmp_path / "img", [make_image([base, removal])])
    inv = catalog_image(f"oci:{tmp_path / 'img'}:latest")
    assert [(p.name, p.layer_digest) for p in inv.packages] == [("libc6", base.digest)]


def test_cached_base_layer_is_not_read(tmp_path: Path) -> None:
    base = base_layer()
    write_oci_layout(tmp_path / "one", [make_image([base])])
    write_oci_layout(tmp_path / "two", [make_image([base, apt_layer()])])
    cataloguer = ImageCataloguer(cache=MemoryCatalogCache())
    first = catalog_image(f"oci:{tmp_path / 'one'}:latest", cataloguer=cataloguer)
    second = catalog_image(f"oci:{tmp_path / 'two'}:latest", cataloguer=cataloguer)
    assert [r.read for r in first.layers] == [True]
    assert [r.read for r in second.layers] == [False, True]
    assert second.distro == first.distro
    assert {p.name: p.layer_digest for p in second.packages}["libc6"] == base.digest


# ---------------------------------------------------------------- corpus


def corpus_images() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        p.name.removesuffix(".contents.txt")
        for p in CORPUS.glob("*.contents.txt")
        if (CORPUS / p.name.removesuffix(".contents.txt")).is_dir()
    )


def ground_truth(name: str) -> dict[str, set[tuple[str, str, str]]]:
    sections: dict[str, set[tuple[str, str, str]]] = {}
    current = ""
    for line in (CORPUS / f"{name}.contents.txt").read_text().splitlines():
        if line.startswith("# "):
            current = line[2:].split()[0]
            sections.setdefault(current, set())
        elif line.strip() and current in ("dpkg", "rpm"):
            n, v, a = line.split()[:3]
            sections[current].add((n, v, a))
    return sections


@pytest.mark.corpus
@pytest.mark.skipif(
    not corpus_images(),
    reason=f"no image corpus at {CORPUS} (build it with ../shared/images/build-corpus.sh)",
)
@pytest.mark.parametrize("name", corpus_images() or ["none"])
def test_corpus_os_packages_match_ground_truth(name: str) -> None:
    inv = catalog_image(f"oci:{CORPUS / name}:latest")
    truth = ground_truth(name)
    deb = {(p.name, p.version, p.arch or "") for p in inv.packages if p.type == "deb"}
    rpm = {
        (p.name, f"{p.version.split(':', 1)[-1]}", p.arch or "")
        for p in inv.packages
        if p.type == "rpm"
    }
    assert deb == truth.get("dpkg", set())
    assert rpm == truth.get("rpm", set())
    assert not [w for w in inv.warnings if "truncated" in w or "corrupt" in w]


@pytest.mark.corpus
@pytest.mark.skipif(
    not (CORPUS / "random-200m").is_dir(), reason=f"no random-200m in {CORPUS} (RANDOM_MB=200)"
)
def test_corpus_random_layer_has_nothing() -> None:
    inv = catalog_image(f"oci:{CORPUS / 'random-200m'}:latest")
    assert inv.packages == () and inv.distro is None and not inv.warnings
    assert inv.image is not None and inv.layers[0].diff_id == inv.image.layers[0].diff_id


@pytest.mark.corpus
@pytest.mark.skipif(
    not (CORPUS / "debian-python").is_dir() or not (CORPUS / "debian-minbase").is_dir(),
    reason=f"no image corpus at {CORPUS}",
)
def test_corpus_python_image_dpkg_attribution() -> None:
    """Packages already in minbase keep the base layer; those apt added for python3 get layer 2."""
    minbase = {
        (p.name, p.version)
        for p in catalog_image(f"oci:{CORPUS / 'debian-minbase'}:latest").packages
    }
    inv = catalog_image(f"oci:{CORPUS / 'debian-python'}:latest")
    assert inv.image is not None
    layer = [r.digest for r in inv.layers]
    for p in inv.packages:
        if p.type == "deb":
            assert p.layer_digest == (layer[0] if (p.name, p.version) in minbase else layer[1]), (
                p.name
            )


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "debian-python").is_dir(), reason=f"no image corpus at {CORPUS}")
def test_corpus_pip_layer_attribution() -> None:
    """Every Python package reports the pip layer (the third); PyYAML, whited out by the fourth
    layer, is gone (README of the corpus)."""
    inv = catalog_image(f"oci:{CORPUS / 'debian-python'}:latest")
    python = [p for p in inv.packages if p.type == "python"]
    if not python:
        pytest.skip("no Python cataloger registered yet in catalog/registry.py")
    assert {p.layer_digest for p in python} == {inv.layers[2].digest}
    assert len(python) == 15 and "pyyaml" not in {p.name.lower() for p in python}


# ---------------------------------------------------------------- hostile layers

RUNNER = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
from dockwatch.catalog.layers import Budgets
from dockwatch.catalog.service import ImageCataloguer, catalog_image
budgets = Budgets(**json.loads(sys.argv[2])) if len(sys.argv) > 2 else None
inv = catalog_image(sys.argv[1], cataloguer=ImageCataloguer(budgets=budgets))
print(json.dumps({"packages": sorted(p.name for p in inv.packages), "warnings": list(inv.warnings),
                  "skipped": [s.reason for s in inv.skipped],
                  "incomplete": [i.reason.value for i in inv.incomplete]}))
"""


def run_hostile(
    layout: Path, timeout: float = 120, budgets: dict[str, int] | None = None
) -> dict[str, list[str]]:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}:{ROOT}")
    extra = [] if budgets is None else [json.dumps(budgets)]
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, f"oci:{layout}:latest", *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, list[str]] = json.loads(proc.stdout)
    return result


STATUS = dpkg_status(dpkg_stanza("libc6", "2.36-9"), dpkg_stanza("bash", "5.2.15-2+b2"))


def layout_of(tmp_path: Path, *blobs: bytes) -> Path:
    layers = [Layer(b"", blob, "application/vnd.oci.image.layer.v1.tar+gzip") for blob in blobs]
    image = make_image(layers)
    # diff_ids of hand-made blobs are unknown: drop them rather than state wrong ones.
    config = json.loads(image.config)
    config["rootfs"]["diff_ids"] = []
    from tests.builders.layers import Image, sha256

    raw_config = json.dumps(config).encode()
    manifest = json.loads(image.manifest)
    manifest["config"].update(digest=sha256(raw_config), size=len(raw_config))
    fixed = Image(image.layers, raw_config, json.dumps(manifest).encode())
    return write_oci_layout(tmp_path / "img", [fixed])


def test_hostile_paths_and_links(tmp_path: Path) -> None:
    tar = tar_bytes(
        {"../../var/lib/dpkg/status": dpkg_stanza("evil", "6.6.6"), "/var/lib/dpkg/status": STATUS},
        symlinks={
            "etc/os-release": "/../../../etc/shadow",
            "usr/lib/os-release": "../../usr/lib/os-release",
            "var/lib/dpkg/status.d/loop": "loop",
        },
        hardlinks={"var/lib/dpkg/status.d/hard": "does/not/exist"},
    )
    out = run_hostile(layout_of(tmp_path, gzip.compress(tar)))
    assert out["packages"] == ["bash", "libc6"]
    assert any("escapes the layer root" in w for w in out["warnings"])
    assert any("hard link" in w for w in out["warnings"])


def tar_head(files: dict[str, str]) -> bytes:
    """Tar entries without the end-of-archive blocks, so more entries can follow."""
    buf = io.BytesIO()
    tf = tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT)
    for name, text in files.items():
        info = tarfile.TarInfo(name)
        info.size = len(text.encode())
        tf.addfile(info, io.BytesIO(text.encode()))
    return buf.getvalue()


def _gzip_members(*parts: bytes) -> bytes:
    return b"".join(gzip.compress(p, compresslevel=1, mtime=0) for p in parts)


@pytest.mark.slow
def test_gzip_bomb(tmp_path: Path) -> None:
    head = tar_head({"var/lib/dpkg/status": STATUS})
    info = tarfile.TarInfo("bomb.bin")
    info.size = 64 << 30
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    zeros = gzip.compress(bytes(64 << 20), compresslevel=9, mtime=0)  # 64 MiB -> ~64 kB
    bomb = _gzip_members(head + header) + zeros * 1024  # claims 64 GiB of zeros
    # zeros are read past, in bounded memory, until the uncompressed bound stops the read
    out = run_hostile(layout_of(tmp_path, bomb), budgets={"uncompressed_bytes": 2 << 30})
    assert out["packages"] == ["bash", "libc6"]
    assert any(f"exceeds {2 << 30} uncompressed bytes" in w for w in out["warnings"])
    assert out["incomplete"] == ["UNCOMPRESSED_SIZE_LIMIT"]


def test_sparse_10gb_entry(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        sparse_map = b"1\n0\n512\n".ljust(512, b"\0")
        info = tarfile.TarInfo("usr/share/java/GNUSparseFile.0/big.jar")
        info.size = len(sparse_map) + 512
        info.pax_headers = {
            "GNU.sparse.major": "1",
            "GNU.sparse.minor": "0",
            "GNU.sparse.name": "usr/share/java/big.jar",
            "GNU.sparse.realsize": str(10 << 30),
        }
        tf.addfile(info, io.BytesIO(sparse_map + b"x" * 512))
        data = STATUS.encode()
        status = tarfile.TarInfo("var/lib/dpkg/status")
        status.size = len(data)
        tf.addfile(status, io.BytesIO(data))
    out = run_hostile(layout_of(tmp_path, gzip.compress(buf.getvalue())))
    assert out["packages"] == ["bash", "libc6"]


@pytest.mark.slow
def test_million_entries(tmp_path: Path) -> None:
    first = tar_head({"var/lib/dpkg/status": STATUS})
    template = bytearray(tarfile.TarInfo("f/0000000").tobuf(format=tarfile.USTAR_FORMAT))
    template[148:156] = b" " * 8
    base_sum = sum(template) - sum(b"0000000")
    path = tmp_path / "million.gz"
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        f.write(comp.compress(first))
        chunk = bytearray()
        for i in range(1_000_000):
            digits = b"%07d" % i
            template[2:9] = digits
            template[148:156] = b"%06o\0 " % (base_sum + sum(digits))
            chunk += template
            if len(chunk) >= 1 << 22:
                f.write(comp.compress(bytes(chunk)))
                chunk.clear()
        f.write(comp.compress(bytes(chunk) + bytes(10240)))
        f.write(comp.flush())
    # the timeout is a hang guard, long enough for a loaded machine running tests in parallel
    out = run_hostile(layout_of(tmp_path, path.read_bytes()), timeout=900)
    assert out["packages"] == ["bash", "libc6"]
    assert any("entries; stopped reading" in w for w in out["warnings"])


def test_zip_directories_lying_about_their_entries(tmp_path: Path) -> None:
    """A jar and a zipped egg of 64 MB of central directory each (1.4 million entries, which
    `zipfile` would make into some 500 MB of objects) whose end records declare one entry:
    both refused before `zipfile` reads them, under 512 MB of address space."""
    bomb = lying_directory((64 << 20) // 47, declared=1)
    files: dict[str, bytes | str] = {"var/lib/dpkg/status": STATUS, "app/lib/a.jar": bomb}
    files["site/x-1.egg"] = bomb
    out = run_hostile(layout_of(tmp_path, gzip.compress(tar_bytes(files), compresslevel=1)))
    assert out["packages"] == ["bash", "libc6"]
    refused = [r for r in out["skipped"] if "zip entries in a central directory" in r]
    assert len(refused) == 2, out["skipped"]


def test_truncated_gzip_layer(tmp_path: Path) -> None:
    blob = make_layer({"var/lib/dpkg/status": STATUS, "usr/bin/big": os.urandom(300_000)}).blob
    out = run_hostile(layout_of(tmp_path, blob[: len(blob) - 100_000]))
    assert out["packages"] == ["bash", "libc6"]
    assert any("truncated" in w for w in out["warnings"])


def test_corrupt_dpkg_status(tmp_path: Path) -> None:
    blob = make_layer(
        {"var/lib/dpkg/status": STATUS + "\n\x00\x01garbage line\n" + dpkg_stanza("after", "1")}
    ).blob
    out = run_hostile(layout_of(tmp_path, blob))
    assert out["packages"] == ["bash", "libc6"]  # the stanzas before the corruption
    assert any("/var/lib/dpkg/status" in s and "garbage" in s for s in out["skipped"])


def test_corrupt_rpm_database(tmp_path: Path) -> None:
    blob = make_layer(
        {
            "var/lib/rpm/rpmdb.sqlite": b"SQLite format 3\0" + os.urandom(8192),
            "var/lib/dpkg/status": STATUS,
        }
    ).blob
    out = run_hostile(layout_of(tmp_path, blob))
    assert out["packages"] == ["bash", "libc6"]
    assert any("corrupt rpm database" in s for s in out["skipped"])


def test_resolve_helper_for_sources(tmp_path: Path) -> None:
    write_oci_layout(tmp_path / "img", [make_image([base_layer()])])
    source = open_source(f"oci:{tmp_path / 'img'}:latest")
    assert len(resolve(source.reader, source.ref).layers) == 1


def test_registry_rejects_duplicates_and_lists_builtins() -> None:
    from dockwatch.catalog.dpkg.cataloger import DpkgCataloger
    from dockwatch.catalog.registry import (
        CatalogerRegistry,
        DuplicateCataloger,
        UnknownCataloger,
        default_registry,
    )

    registry = default_registry(plugins=False)
    assert {"dpkg-db", "apk-db", "rpm-db"} <= set(registry.names())
    with pytest.raises(DuplicateCataloger):
        registry.register(DpkgCataloger())
    with pytest.raises(UnknownCataloger):
        CatalogerRegistry().get("nope")


def test_failing_cataloger_is_a_warning(tmp_path: Path) -> None:
    from dockwatch.catalog.cataloger import CatalogResult, LayerFiles, ParseEnv
    from dockwatch.catalog.registry import default_registry

    class Broken:
        name = "broken"
        version = 1
        globs = ("/etc/*",)

        def wants(self, path: str, size: int, mode: int) -> bool:
            return False

        def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
            raise IndexError("boom")

    registry = default_registry(plugins=False)
    registry.register(Broken())
    write_oci_layout(tmp_path / "img", [make_image([base_layer()])])
    inv = catalog_image(f"oci:{tmp_path / 'img'}:latest", cataloguer=ImageCataloguer(registry))
    assert len(inv.packages) == 4
    assert any("cataloger broken failed: IndexError: boom" in w for w in inv.warnings)


def test_tampered_blob_is_refused_and_not_cached(tmp_path: Path) -> None:
    base, apt = base_layer(), apt_layer()
    image = make_image([base, apt])
    write_oci_layout(tmp_path / "img", [image])
    # Swap the second layer's bytes for another valid layer under the same digest.
    evil = make_layer({"var/lib/dpkg/status": dpkg_stanza("backdoor", "1.0")})
    (tmp_path / "img" / "blobs" / "sha256" / apt.digest[7:]).write_bytes(evil.blob)
    cache = MemoryCatalogCache()
    trusting = catalog_image(
        f"oci:{tmp_path / 'img'}:latest", cataloguer=ImageCataloguer(verify_blobs=False)
    )
    assert "backdoor" in {p.name for p in trusting.packages}  # local layouts are trusted by default
    inv = catalog_image(
        f"oci:{tmp_path / 'img'}:latest", cataloguer=ImageCataloguer(cache=cache, verify_blobs=True)
    )
    assert "backdoor" not in {p.name for p in inv.packages}
    assert any("digest mismatch" in w for w in inv.warnings)
    assert all(key[0] != apt.digest for key in cache.results) and (apt.digest, 1) not in cache.facts


def test_registry_blobs_are_verified_by_default() -> None:
    import httpx

    from tests.unit.image.test_sources import FakeRegistry

    base, apt = base_layer(), apt_layer()
    image = make_image([base, apt])
    fake = FakeRegistry(image, "bearer")
    fake.blobs[apt.digest] = make_layer(
        {"var/lib/dpkg/status": dpkg_stanza("backdoor", "1.0")}
    ).blob
    inv = catalog_image(
        "docker://reg.test/team/app:v1",
        creds=("alice", "s3cret"),
        transport=httpx.MockTransport(fake),
    )
    assert "backdoor" not in {p.name for p in inv.packages}
    assert {p.name for p in inv.packages} == {"libc6", "libssl3", "zlib1g", "tzdata"}
    assert any("digest mismatch" in w for w in inv.warnings)
