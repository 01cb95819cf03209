"""Webhook secrets sealed with AES-GCM, under a key kept outside the database."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from dockwatch.errors import InvalidInput
from dockwatch.events.secretbox import KEY_FILE, SecretBox, SecretUnreadable, load_key

SECRET = "receiver-secret-0123456789abcdef"


def test_a_sealed_secret_opens_only_with_its_key_and_subscription() -> None:
    box = SecretBox(os.urandom(32))
    stored = box.seal(SECRET, "hook-1")
    assert SECRET not in stored and stored != box.seal(SECRET, "hook-1")  # fresh nonce each time
    assert box.open(stored, "hook-1") == SECRET
    with pytest.raises(SecretUnreadable):
        box.open(stored, "hook-2")  # copied onto another subscription
    with pytest.raises(SecretUnreadable):
        SecretBox(os.urandom(32)).open(stored, "hook-1")
    with pytest.raises(SecretUnreadable):
        box.open(SECRET, "hook-1")  # plaintext is not a sealed value


def test_the_key_file_is_created_once_private_to_the_owner(tmp_path: Path) -> None:
    key = load_key(None, tmp_path)
    assert len(key) == 32
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert load_key(None, tmp_path) == key
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]


def test_the_key_setting_wins_and_is_checked(tmp_path: Path) -> None:
    key = os.urandom(32)
    assert load_key(base64.b64encode(key).decode(), tmp_path) == key
    assert not (tmp_path / KEY_FILE).exists()
    with pytest.raises(InvalidInput, match="32"):
        load_key(base64.b64encode(b"short").decode(), tmp_path)
