"""Decode an rpm header blob as rpmdb stores it (no lead, no 8-byte magic).

Layout (rpm `doc/manual/format.md`, "Header"): big-endian `il` (index entries) and `dl` (data
bytes), then `il` entries of (tag, type, offset, count), then the data store. Every offset and
count is checked against the store, so a corrupt blob raises `HeaderCorrupt` and never reads
out of bounds.
"""

from __future__ import annotations

import struct

from dockwatch.catalog.cataloger import CatalogError
from dockwatch.value_class import frozen

NAME, VERSION, RELEASE, EPOCH = 1000, 1001, 1002, 1003
LICENSE, ARCH, SOURCERPM = 1014, 1022, 1044
OLDFILENAMES, DIRINDEXES, BASENAMES, DIRNAMES = 1027, 1116, 1117, 1118
MODULARITYLABEL = 5096

_INT_TYPES = {2: ("B", 1), 3: (">H", 2), 4: (">I", 4), 5: (">Q", 8)}
_STRING, _BIN, _STRING_ARRAY, _I18N = 6, 7, 8, 9
#: Headers larger than this are refused (real ones are well under 2 MB).
MAX_HEADER = 64 << 20
_WANTED = frozenset(
    {
        NAME,
        VERSION,
        RELEASE,
        EPOCH,
        LICENSE,
        ARCH,
        SOURCERPM,
        OLDFILENAMES,
        DIRINDEXES,
        BASENAMES,
        DIRNAMES,
        MODULARITYLABEL,
    }
)


class HeaderCorrupt(CatalogError):
    """An rpm header blob is malformed."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"corrupt rpm header: {reason}")
        self.reason = reason


@frozen
class RpmHeader:
    """The fields of an installed rpm that dockwatch reports."""

    name: str
    version: str
    release: str
    epoch: int | None
    arch: str | None
    sourcerpm: str | None
    license: str | None
    modularity_label: str | None
    files: tuple[str, ...]


def parse_header(blob: bytes) -> RpmHeader:
    """Decode the fields dockwatch needs from one header blob."""
    if len(blob) < 8:
        raise HeaderCorrupt("shorter than its 8-byte preamble")
    il, dl = struct.unpack_from(">II", blob, 0)
    store = 8 + 16 * il
    if il > 100_000 or store + dl > len(blob) or store + dl > MAX_HEADER:
        raise HeaderCorrupt(
            f"index of {il} entries and {dl} data bytes exceed the blob ({len(blob)} bytes)"
        )
    values: dict[int, object] = {}
    for i in range(il):
        tag, kind, offset, count = struct.unpack_from(">IIiI", blob, 8 + 16 * i)
        if tag not in _WANTED:
            continue
        if offset < 0 or offset >= dl or count > dl:
            raise HeaderCorrupt(f"tag {tag} points outside the data store")
        values[tag] = _value(blob, store + offset, store + dl, kind, count, tag)
    name, version, release = (_str(values.get(t)) for t in (NAME, VERSION, RELEASE))
    if not name or version is None or release is None:
        raise HeaderCorrupt("no name, version or release")
    epoch_value = values.get(EPOCH)
    epoch = epoch_value[0] if isinstance(epoch_value, list) and epoch_value else None
    return RpmHeader(
        name=name,
        version=version,
        release=release,
        epoch=epoch if isinstance(epoch, int) else None,
        arch=_str(values.get(ARCH)),
        sourcerpm=_str(values.get(SOURCERPM)),
        license=_str(values.get(LICENSE)),
        modularity_label=_str(values.get(MODULARITYLABEL)),
        files=_files(values),
    )


def _value(blob: bytes, start: int, end: int, kind: int, count: int, tag: int) -> object:
    if kind in _INT_TYPES:
        fmt, size = _INT_TYPES[kind]
        if start + size * count > end:
            raise HeaderCorrupt(f"tag {tag}: integers run past the data store")
        return [struct.unpack_from(fmt, blob, start + size * k)[0] for k in range(count)]
    if kind in (_STRING, _STRING_ARRAY, _I18N):
        out: list[str] = []
        pos = start
        for _ in range(count if kind != _STRING else 1):
            nul = blob.find(b"\0", pos, end)
            if nul < 0:
                raise HeaderCorrupt(f"tag {tag}: unterminated string")
            out.append(blob[pos:nul].decode("utf-8", errors="replace"))
            pos = nul + 1
        return out
    if kind == _BIN:
        return blob[start : min(start + count, end)]
    return None


def _str(value: object) -> str | None:
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return None


def _files(values: dict[int, object]) -> tuple[str, ...]:
    basenames, dirnames, indexes = (
        values.get(BASENAMES),
        values.get(DIRNAMES),
        values.get(DIRINDEXES),
    )
    if isinstance(basenames, list) and isinstance(dirnames, list) and isinstance(indexes, list):
        if len(indexes) != len(basenames):
            raise HeaderCorrupt("DIRINDEXES and BASENAMES differ in length")
        try:
            return tuple(dirnames[i] + b for i, b in zip(indexes, basenames, strict=True))
        except (IndexError, TypeError) as exc:
            raise HeaderCorrupt("a DIRINDEXES entry is out of range") from exc
    old = values.get(OLDFILENAMES)
    if isinstance(old, list):
        return tuple(str(f) for f in old)
    return ()
