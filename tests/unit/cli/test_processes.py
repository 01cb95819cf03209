"""Commands on a scaled-out install: `migrate`, and the data-folder commands that refuse blobs
kept in S3 with one clear line instead of a half-done job."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwatch.cli.main import main


def test_migrate_creates_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert main(["migrate", "--data", str(data)]) == 0
    assert "current schema" in capsys.readouterr().out
    assert (data / "dockwatch.db").is_file()
    assert main(["migrate", "--data", str(data)]) == 0  # idempotent


def test_backup_and_fsck_refuse_blobs_in_s3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    assert main(["migrate", "--data", str(data)]) == 0
    monkeypatch.setenv("DOCKWATCH_BLOB_URL", "s3://bucket/prefix")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    capsys.readouterr()
    assert main(["backup", "--data", str(data), "--to", str(tmp_path / "b")]) == 2
    assert "blobs are in s3://bucket/prefix" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
    assert main(["fsck", "--data", str(data)]) == 2
    assert "blobs are in s3://bucket/prefix" in capsys.readouterr().err


def test_migrate_store_refuses_a_folder_without_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["migrate-store", "--from", str(tmp_path), "--to-database", "sqlite://",
            "--to-blobs", "s3://b/p"]  # fmt: skip
    assert main(args) == 2
    assert "no dockwatch data folder" in capsys.readouterr().err
