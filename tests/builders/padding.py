"""A layer that hides package metadata behind a large run of zeros: huge uncompressed, tiny
compressed (the "blinded scan" attack: a reader that stops at a compression-ratio limit never
sees the metadata)."""

from __future__ import annotations

import gzip
import tarfile
from collections.abc import Mapping

from tests.builders.layers import tar_bytes

_BLOCK = 64 << 20


def padded_layer(pad_bytes: int, files: Mapping[str, str | bytes]) -> bytes:
    """A gzip layer blob: a `pad.bin` entry of `pad_bytes` zeros (a multiple of 64 MiB), then
    `files`. The zeros are one gzip member repeated, so building it costs one 64 MiB compress."""
    if pad_bytes % _BLOCK:
        raise ValueError("pad_bytes must be a multiple of 64 MiB")
    info = tarfile.TarInfo("pad.bin")
    info.size = pad_bytes
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    zeros = gzip.compress(bytes(_BLOCK), compresslevel=9, mtime=0)
    return (
        gzip.compress(header, mtime=0)
        + zeros * (pad_bytes // _BLOCK)
        + gzip.compress(tar_bytes(dict(files)), mtime=0)
    )
