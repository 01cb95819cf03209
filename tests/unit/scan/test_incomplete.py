"""A scan whose layer read was cut short is never a clean SUCCESSFUL result (blinded scans)."""

from __future__ import annotations

from pathlib import Path

from dockwatch.scan.status import ecr_status
from tests.builders.layers import Image, Layer, dpkg_stanza, dpkg_status, make_image
from tests.builders.padding import padded_layer
from tests.builders.push import push_image
from tests.unit.scan.test_status_flow import _enhanced, _scanned

PAD = 1280 << 20
"""Over the former reader's ratio limit (past 1 GiB at above 200:1; these zeros are ~1000:1)."""
FILES = {
    "etc/os-release": 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
    "var/lib/dpkg/status": dpkg_status(dpkg_stanza("openssl", "3.0.11-1~deb12u1")),
    "usr/lib/python3/dist-packages/PyYAML-5.3.dist-info/METADATA": (
        "Metadata-Version: 2.1\nName: pyyaml\nVersion: 5.3\n"
    ),
}
GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def _padded(pad: int = PAD) -> Image:
    return make_image([Layer(b"", padded_layer(pad, FILES), GZIP)])


def test_packages_behind_padding_are_scanned(tmp_path: Path) -> None:
    services = _enhanced(tmp_path)
    try:
        image = _padded()
        state = _scanned(services, "padded", image)
        assert (state.status_code, state.reason) == ("ACTIVE", "SUCCESSFUL")
        with services.store.read() as uow:
            stored = uow.catalog.inventory(image.digest)
        assert stored is not None
        assert sorted(p.name for p in stored.packages) == ["openssl", "pyyaml"]
    finally:
        services.close()


def test_a_read_cut_short_by_size_is_scan_incomplete(tmp_path: Path) -> None:
    services = _enhanced(tmp_path, scan_max_uncompressed_bytes=128 << 20)
    try:
        image = _padded(256 << 20)
        state = _scanned(services, "cut", image)
        assert (state.status_code, state.reason) == ("INACTIVE", "SCAN_INCOMPLETE")
        assert ecr_status(state) == "FAILED"
        detail = state.unsupported_os or ""  # the status detail names the layer and the bound
        assert image.layers[0].digest in detail and "UNCOMPRESSED_SIZE_LIMIT" in detail
        with services.store.read() as uow:  # nothing partial is kept as the image's inventory
            assert uow.catalog.inventory(image.digest) is None
            assert uow.registry.get_repository(services.tenant, "cut") is not None
    finally:
        services.close()


def test_a_read_cut_short_by_time_is_scan_incomplete(tmp_path: Path) -> None:
    services = _enhanced(tmp_path, scan_layer_seconds=0)
    try:
        state = _scanned(services, "slow", _padded(64 << 20))
        assert (state.status_code, state.reason) == ("INACTIVE", "SCAN_INCOMPLETE")
        assert "TIME_LIMIT" in (state.unsupported_os or "")
    finally:
        services.close()


def test_basic_scanning_reports_a_cut_short_read_as_failed(tmp_path: Path) -> None:
    from dockwatch.app import build
    from dockwatch.config import Settings

    services = build(Settings(data_dir=tmp_path / "d", test_mode=True, scan_layer_seconds=0))
    try:
        image = _padded(64 << 20)
        digest = push_image(services, "basic", image, tag=image.digest)
        services.scanner.request_manual_scan("basic", digest)
        services.worker.drain()
        with services.store.read() as uow:
            repo = uow.registry.get_repository(services.tenant, "basic")
            assert repo is not None
            state = uow.scans.get_scan(repo.id, digest)
        assert state is not None and state.reason == "SCAN_INCOMPLETE"
        assert ecr_status(state) == "FAILED"
    finally:
        services.close()
