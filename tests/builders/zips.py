"""Zip archives damaged the ways `zipfile` refuses to read a member, or whose central directory
lies about its entries (archives in feeds and in image layers are hostile)."""

from __future__ import annotations

UNREADABLE_MEMBERS = ("encrypted", "unknown method")


def unreadable_member(archive: bytes, index: int, how: str) -> bytes:
    """`archive` with its member `index` marked as `zipfile` cannot read it without more:
    encrypted (general purpose flag bit 0) or packed by an unknown method (99), in the
    member's central directory record (APPNOTE 4.3.12: the flags at offset 8, the method at
    10), which is what `zipfile` goes by."""
    data = bytearray(archive)
    at = -1
    for _ in range(index + 1):
        at = data.index(b"PK\x01\x02", at + 1)
    if how == "encrypted":
        data[at + 8] |= 0x01
    elif how == "unknown method":
        data[at + 10 : at + 12] = (99).to_bytes(2, "little")
    else:
        raise ValueError(how)
    return bytes(data)


def lying_directory(entries: int, declared: int = 1) -> bytes:
    """An archive of nothing but a central directory of `entries` minimal records (APPNOTE
    4.3.12: 46 bytes and a one-byte name), whose end record declares `declared` entries.
    `zipfile` walks a directory by its size, so it reads every record whatever the count
    says: 47 bytes of archive for each object of some 360 bytes it makes."""
    record = b"PK\x01\x02" + bytes(24) + (1).to_bytes(2, "little") + bytes(16) + b"a"
    directory = record * entries
    end = b"PK\x05\x06" + bytes(4) + declared.to_bytes(2, "little") * 2
    return directory + end + len(directory).to_bytes(4, "little") + bytes(6)


DAMAGED_MEMBERS = ("bad data", "local name not UTF-8", *UNREADABLE_MEMBERS)


def damaged_member(archive: bytes, index: int, how: str) -> bytes:
    """`archive` with its member `index` unreadable: its compressed data changed (`bad
    data`: it no longer inflates, or not to its CRC), its local header's name flagged as UTF-8
    and not UTF-8 (`zipfile` raises UnicodeDecodeError as it opens the member), or as
    `unreadable_member` marks it."""
    if how not in ("bad data", "local name not UTF-8"):
        return unreadable_member(archive, index, how)
    data = bytearray(archive)
    at = -1
    for _ in range(index + 1):
        at = data.index(b"PK\x03\x04", at + 1)
    # APPNOTE 4.3.7: the local header's 30 bytes (its flags at offset 6), then its name and
    # extra field, then the data
    name, extra = (int.from_bytes(data[at + o : at + o + 2], "little") for o in (26, 28))
    if how == "bad data":
        data[at + 30 + name + extra + 2] ^= 0xFF
    else:
        data[at + 7] |= 0x08  # bit 11 of the flags: the name is UTF-8
        data[at + 30] = 0xFF  # which no UTF-8 text starts with
    return bytes(data)
