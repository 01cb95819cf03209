"""`dockwatch fsck` on a real data folder (images pushed through the registry service), broken
in each way fsck knows, checking the report, the exit code and what `--repair` leaves."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockwatch.app import Services, build
from dockwatch.cli.main import main
from dockwatch.config import Settings
from tests.builders.layers import Image, make_image, make_index, make_layer, sha256
from tests.builders.push import OCI_MANIFEST, push_image, upload_blob

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass
class Store:
    data: Path
    app: Image
    other: Image
    index: str


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    data = tmp_path / "data"
    services = build(Settings(data_dir=data, test_mode=True))
    try:
        app = make_image([make_layer({"etc/a": "one"}), make_layer({"etc/b": "two" * 100})])
        other = make_image([make_layer({"etc/c": "three"})], platform="linux/arm64")
        push_image(services, "app", app, "v1")
        push_image(services, "multi", app, app.digest)
        push_image(services, "multi", other, other.digest)
        index = make_index([app, other])
        services.registry.manifests.put("multi", "all", index, OCI_INDEX)
    finally:
        services.close()
    yield Store(data, app, other, sha256(index))


def _fsck(data: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["fsck", "--data", str(data), "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def _kinds(report: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return sorted((p["kind"], p["subject"]) for p in report["problems"])


def _blob_file(data: Path, digest: str) -> Path:
    hexpart = digest.split(":")[1]
    return data / "blobs" / "sha256" / hexpart[:2] / hexpart


def _sql(data: Path, statement: str, *args: object) -> None:
    with sqlite3.connect(data / "dockwatch.db") as db:
        db.execute(statement, args)


def _services(data: Path) -> Services:
    return build(Settings(data_dir=data, test_mode=True))


def test_a_clean_store_is_clean(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _fsck(store.data, capsys=capsys)
    assert (code, report["problems"], report["clean"]) == (0, [], True)
    layers = {x.digest for x in (*store.app.layers, *store.other.layers)}
    configs = {sha256(store.app.config), sha256(store.other.config)}
    assert report["checked"]["blobs"] == len(layers | configs)
    assert report["checked"]["manifests"] == 4  # app:v1, two children and the index in multi
    assert main(["fsck", "--data", str(store.data)]) == 0
    assert "clean" in capsys.readouterr().out


def test_a_corrupt_blob_is_reported_quarantined_and_can_be_pushed_again(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    layer = store.app.layers[1]
    path = _blob_file(store.data, layer.digest)
    damaged = bytearray(layer.blob)
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    code, report = _fsck(store.data, capsys=capsys)
    assert code == 1
    assert _kinds(report) == [
        ("corrupt_blob", layer.digest),
        ("missing_reference", f"app@{store.app.digest}"),
        ("missing_reference", f"multi@{store.app.digest}"),
    ]
    assert path.read_bytes() == bytes(damaged)  # a check changes nothing

    code, report = _fsck(store.data, "--repair", capsys=capsys)
    assert code == 1  # the manifests still need the blob pushed again
    repaired = {(p["kind"], p["repaired"]) for p in report["problems"]}
    assert repaired == {("corrupt_blob", True), ("missing_reference", False)}
    assert not path.exists()
    moved = Path(report["quarantine"]) / "sha256" / layer.digest.split(":")[1]
    assert moved.read_bytes() == bytes(damaged)
    for intact in (store.app.layers[0].digest, sha256(store.app.config)):
        assert sha256(_blob_file(store.data, intact).read_bytes()) == intact

    services = _services(store.data)
    try:
        upload_blob(services, "app", layer.blob)
        upload_blob(services, "multi", layer.blob)
    finally:
        services.close()
    code, report = _fsck(store.data, capsys=capsys)
    assert (code, report["problems"]) == (0, [])
    assert path.read_bytes() == layer.blob


def test_a_truncated_and_a_missing_blob(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    first = store.app.layers[0]
    path = _blob_file(store.data, first.digest)
    path.write_bytes(first.blob[: len(first.blob) // 2])
    config = sha256(store.other.config)
    _blob_file(store.data, config).unlink()
    code, report = _fsck(store.data, capsys=capsys)
    assert code == 1
    assert _kinds(report) == sorted([
        ("corrupt_blob", first.digest),
        ("missing_blob", config),
        ("missing_reference", f"app@{store.app.digest}"),
        ("missing_reference", f"multi@{store.app.digest}"),
        ("missing_reference", f"multi@{store.other.digest}"),
    ])  # fmt: skip
    main(["fsck", "--data", str(store.data), "--repair"])
    text = capsys.readouterr().out
    assert "corrupt_blob" in text and "(repaired)" in text
    with sqlite3.connect(store.data / "dockwatch.db") as db:
        rows = {r[0] for r in db.execute("SELECT digest FROM blobs")}
        links = {r[0] for r in db.execute("SELECT digest FROM repository_blobs")}
    assert first.digest not in rows | links and config not in rows | links
    assert store.app.layers[1].digest in rows


def test_dangling_tags_orphan_rows_and_a_missing_child(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    ghost = "sha256:" + "ab" * 32
    _sql(
        store.data,
        "INSERT INTO tags SELECT account_id, region, repository_id, 'ghost', ?, updated_at FROM tags WHERE name = 'v1'",
        ghost,
    )
    # the arm64 child disappears from `multi` without the cascade (foreign keys off here)
    _sql(
        store.data,
        "DELETE FROM manifests WHERE digest = ? AND repository_id = (SELECT id FROM repositories WHERE name = 'multi')",
        store.other.digest,
    )
    code, report = _fsck(store.data, capsys=capsys)
    assert code == 1
    kinds = _kinds(report)
    assert ("dangling_tag", "app:ghost") in kinds
    assert ("missing_child", f"multi@{store.index}") in kinds
    assert [k for k, _ in kinds].count("orphan_row") == 1  # the child's reference rows
    code, report = _fsck(store.data, "--repair", capsys=capsys)
    left = [(p["kind"], p["subject"]) for p in report["problems"] if not p["repaired"]]
    assert left == [("missing_child", f"multi@{store.index}")]
    code, report = _fsck(store.data, capsys=capsys)
    assert _kinds(report) == [("missing_child", f"multi@{store.index}")]
    with sqlite3.connect(store.data / "dockwatch.db") as db:
        tags = sorted(r[0] for r in db.execute("SELECT name FROM tags"))
    assert tags == ["all", "v1"]  # the intact tags stay
    # fmt: skip


def test_a_missing_link_is_added_back(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    layer = store.app.layers[0].digest
    _sql(store.data, "DELETE FROM repository_blobs WHERE digest = ? AND repository_id = (SELECT id FROM repositories WHERE name = 'app')", layer)  # fmt: skip
    code, report = _fsck(store.data, capsys=capsys)
    assert (code, _kinds(report)) == (1, [("missing_link", f"app@{store.app.digest}")])
    code, report = _fsck(store.data, "--repair", capsys=capsys)
    assert code == 0
    services = _services(store.data)
    try:
        with services.store.read() as uow:
            repo = uow.registry.get_repository(services.tenant, "app")
            assert repo is not None
            assert uow.registry.linked_blob_size(repo.id, layer) == len(store.app.layers[0].blob)
    finally:
        services.close()
    assert _fsck(store.data, capsys=capsys)[0] == 0


def test_a_dangling_upload_and_a_corrupt_manifest(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    services = _services(store.data)
    try:
        upload_id = services.registry.uploads.start("app")
    finally:
        services.close()
    (store.data / "uploads" / upload_id).unlink()
    _sql(
        store.data,
        "UPDATE manifest_contents SET content = CAST('{}' AS BLOB) WHERE digest = ?",
        store.index,
    )
    code, report = _fsck(store.data, capsys=capsys)
    assert _kinds(report) == [
        ("corrupt_manifest", f"multi@{store.index}"),
        ("dangling_upload", upload_id),
    ]
    code, report = _fsck(store.data, "--repair", capsys=capsys)
    assert code == 1
    assert [(p["kind"], p["repaired"]) for p in report["problems"]] == [
        ("corrupt_manifest", False),
        ("dangling_upload", True),
    ]
    # fmt: skip


def test_a_foreign_layer_is_not_a_missing_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    image = make_image([make_layer({"etc/x": "x"})])
    doc = json.loads(image.manifest)
    foreign = {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
               "digest": "sha256:" + "cd" * 32, "size": 1234,
               "urls": ["https://example.com/layer.tar.gz"]}  # fmt: skip
    doc["layers"].append(foreign)
    manifest = json.dumps(doc).encode()
    services = _services(data)
    try:
        for blob in (image.config, image.layers[0].blob):
            upload_blob(services, "win", blob)
        services.registry.manifests.put("win", "v1", manifest, OCI_MANIFEST)
    finally:
        services.close()
    code, report = _fsck(data, capsys=capsys)
    assert (code, report["problems"]) == (0, [])


def test_fsck_of_a_folder_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fsck", "--data", str(tmp_path / "nope")]) == 2
    assert "no data folder" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()
