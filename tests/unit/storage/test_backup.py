"""`dockwatch backup` / `restore` on a real data folder: a round trip that keeps every byte and
row, and bad backups (truncated, corrupt, incomplete) that fail clearly and leave nothing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwatch.app import build
from dockwatch.cli.main import main
from dockwatch.config import Settings
from tests.builders.layers import make_image, make_layer, sha256
from tests.builders.push import push_image, upload_blob

TABLES = ("repositories", "manifests", "manifest_contents", "tags", "blobs", "repository_blobs", "webhooks")  # fmt: skip


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    services = build(Settings(data_dir=data, test_mode=True))
    try:
        for i in range(3):
            image = make_image([make_layer({f"etc/f{i}": f"content {i}" * (i + 1)})])
            push_image(services, f"repo{i}", image, "latest")
        services.registry.uploads.start("repo0")  # a push in flight: its session stays behind
    finally:
        services.close()
    yield data


def _rows(db_path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(db_path) as db:
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}


def _blob_files(root: Path) -> dict[str, bytes]:
    return {f"sha256:{p.name}": p.read_bytes() for p in (root / "blobs" / "sha256").glob("*/*")}


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_round_trip_keeps_every_row_and_byte(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backups" / "b1"
    assert main(["backup", "--data", str(data), "--to", str(backup)]) == 0
    assert "backed up" in capsys.readouterr().out
    manifest = json.loads((backup / "backup.json").read_text())
    files = _blob_files(data)
    assert {b["digest"] for b in manifest["blobs"]} == set(files)
    assert all(sha256(content) == d for d, content in files.items())
    assert (backup / "webhook-secret.key").read_bytes() == (
        data / "webhook-secret.key"
    ).read_bytes()

    target = tmp_path / "restored"
    assert main(["restore", "--from", str(backup), "--data", str(target)]) == 0
    assert _blob_files(target) == files
    assert _rows(target / "dockwatch.db") == _rows(data / "dockwatch.db")
    with sqlite3.connect(target / "dockwatch.db") as db:
        assert db.execute("SELECT count(*) FROM uploads").fetchone()[0] == 0
        actions = [r[0] for r in db.execute("SELECT action FROM audit_log")]
    assert actions == ["cli restore"]
    assert main(["fsck", "--data", str(target)]) == 0
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path / "backups") == []


def test_restore_refuses_a_folder_that_is_not_empty(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "b"
    assert main(["backup", "--data", str(data), "--to", str(backup)]) == 0
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    assert main(["restore", "--from", str(backup), "--data", str(target)]) == 2
    assert "--force" in capsys.readouterr().err
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert main(["restore", "--from", str(backup), "--data", str(target), "--force"]) == 0
    assert not (target / "keep.txt").exists()
    assert _blob_files(target) == _blob_files(data)
    assert _leftovers(tmp_path) == []


def test_backup_refuses_an_existing_destination(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "x").write_text("x")
    assert main(["backup", "--data", str(data), "--to", str(dest)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["backup", "--data", str(tmp_path / "nothing"), "--to", str(tmp_path / "b")]) == 2
    assert "no dockwatch database" in capsys.readouterr().err


def test_a_blob_collected_during_the_backup_is_left_out_a_named_one_is_an_error(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    services = build(Settings(data_dir=data, test_mode=True))
    try:
        stray = b"uploaded, never named by a manifest"
        upload_blob(services, "repo0", stray)
    finally:
        services.close()
    # gc removes an unnamed blob's file and rows; here the file went first, as when gc runs
    # between the snapshot and the copy
    (data / "blobs" / "sha256" / sha256(stray)[7:9] / sha256(stray)[7:]).unlink()
    assert main(["backup", "--data", str(data), "--to", str(tmp_path / "b1")]) == 0
    listed = {
        b["digest"] for b in json.loads((tmp_path / "b1" / "backup.json").read_text())["blobs"]
    }
    assert sha256(stray) not in listed and listed == set(_blob_files(data))
    assert main(["restore", "--from", str(tmp_path / "b1"), "--data", str(tmp_path / "r")]) == 0
    assert main(["fsck", "--data", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    named = sorted(_blob_files(data))[0]
    (data / "blobs" / "sha256" / named[7:9] / named[7:]).unlink()
    assert main(["backup", "--data", str(data), "--to", str(tmp_path / "b2")]) == 2
    assert "named by a manifest" in capsys.readouterr().err
    assert not (tmp_path / "b2").exists() and _leftovers(tmp_path) == []


def _break_truncated_metadata(b: Path) -> None:
    meta = b / "metadata.db"
    meta.write_bytes(meta.read_bytes()[:4096])


def _break_blob_byte(b: Path) -> None:
    blob = sorted((b / "blobs" / "sha256").glob("*/*"))[0]
    raw = bytearray(blob.read_bytes())
    raw[0] ^= 0x01
    blob.write_bytes(bytes(raw))


def _break_missing_blob(b: Path) -> None:
    sorted((b / "blobs" / "sha256").glob("*/*"))[-1].unlink()


def _break_truncated_manifest(b: Path) -> None:
    text = (b / "backup.json").read_text()
    (b / "backup.json").write_text(text[: len(text) // 2])


def _break_no_manifest(b: Path) -> None:
    (b / "backup.json").unlink()


def _break_key(b: Path) -> None:
    (b / "webhook-secret.key").write_text("short\n")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_break_truncated_metadata, "corrupt or truncated"),
        (_break_blob_byte, "is corrupt in"),
        (_break_missing_blob, "is missing from"),
        (_break_truncated_manifest, "not valid JSON"),
        (_break_no_manifest, "has no backup.json"),
        (_break_key, "corrupt or truncated"),
    ],
)
def test_a_damaged_backup_is_refused_and_nothing_is_restored(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: object, message: str
) -> None:
    backup = tmp_path / "b"
    assert main(["backup", "--data", str(data), "--to", str(backup)]) == 0
    capsys.readouterr()
    damage(backup)  # type: ignore[operator]
    target = tmp_path / "restored"
    assert main(["restore", "--from", str(backup), "--data", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dockwatch: error: ") and message in err, err
    assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_a_failed_forced_restore_keeps_the_old_folder(data: Path, tmp_path: Path) -> None:
    backup = tmp_path / "b"
    assert main(["backup", "--data", str(data), "--to", str(backup)]) == 0
    _break_blob_byte(backup)
    before = _blob_files(data)
    assert main(["restore", "--from", str(backup), "--data", str(data), "--force"]) == 2
    assert _blob_files(data) == before
    assert _leftovers(tmp_path) == []
