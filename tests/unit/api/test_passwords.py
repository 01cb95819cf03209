"""Password hashes: an unknown user costs the scrypt run a known one does, and never passes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from typing import Any

import pytest

from dockwatch.api import passwords


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    real = hashlib.scrypt

    def spy(password: bytes, **kwargs: Any) -> bytes:
        calls.append(kwargs)
        return real(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", spy)
    return calls


def test_an_unknown_user_pays_the_scrypt_of_a_stored_hash(
    scrypt_calls: list[dict[str, Any]],
) -> None:
    stored = passwords.hash_password("the right one")
    scrypt_calls.clear()
    assert passwords.verify_or_dummy("a guess", stored) is False
    assert passwords.verify_or_dummy("the right one", stored) is True
    assert passwords.verify_or_dummy("a guess", None) is False
    _, n, r, p, salt, digest = stored.split("$")
    cost = {"n": int(n), "r": int(r), "p": int(p), "dklen": len(bytes.fromhex(digest))}
    assert len(scrypt_calls) == 3
    for call in scrypt_calls:
        assert {k: call[k] for k in cost} == cost
        assert len(call["salt"]) == len(bytes.fromhex(salt))


def test_the_dummy_hash_is_refused_for_any_password() -> None:
    for guess in ("", "password", passwords.DUMMY_HASH):
        assert passwords.verify_password(guess, passwords.DUMMY_HASH) is False


def test_importing_the_module_runs_no_scrypt() -> None:
    """Every server and CLI process imports it: a hash at import was 45 ms of each start."""
    code = (
        "import hashlib, sys\n"
        "hashlib.scrypt = lambda *a, **k: sys.exit('scrypt ran at import')\n"
        "import dockwatch.api.passwords\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
