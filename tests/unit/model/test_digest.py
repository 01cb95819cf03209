"""Digest grammar and algorithms."""

from __future__ import annotations

import hashlib

import pytest

from dockwatch.model.digest import DigestInvalid, compute, parse_digest


def test_valid() -> None:
    d = "sha256:" + hashlib.sha256(b"x").hexdigest()
    assert parse_digest(d) == d
    assert compute(b"x") == d
    d512 = "sha512:" + hashlib.sha512(b"x").hexdigest()
    assert parse_digest(d512) == d512


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sha256",
        "sha256:",
        "sha256:abc",
        "sha256:" + "A" * 64,
        "md5:" + "a" * 32,
        "sha512:" + "a" * 64,
        ":" + "a" * 64,
        "sha256:" + "g" * 64,
    ],
)
def test_invalid(value: str) -> None:
    with pytest.raises(DigestInvalid):
        parse_digest(value)
