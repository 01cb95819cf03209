"""A package as a canonical document, and the content hash that names it.

Equal packages give equal bytes, so the hash (`package_ref`) identifies a package's content
wherever it is stored: the inventory, the reverse index and the finding details all key on it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import orjson

from dockwatch.model.digest import Digest
from dockwatch.model.package import OsPackageRef, Package


def json_default(value: object) -> object:
    """orjson's fallback for the values dataclasses hold (bytes, sets)."""
    if isinstance(value, bytes):
        return {"__bytes__": value.hex()}
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__}")


def package_from_dict(d: dict[str, Any]) -> Package:
    """A Package from its `dataclasses.asdict` form."""
    owner = d.get("os_package")
    return Package(
        **{
            **d,
            "locations": tuple(d.get("locations", ())),
            "licenses": tuple(d.get("licenses", ())),
            "metadata": tuple(tuple(kv) for kv in d.get("metadata", ())),
            "os_package": None if owner is None else OsPackageRef(**owner),
            "layer_digest": None if d.get("layer_digest") is None else Digest(d["layer_digest"]),
        }
    )


def dump_package(pkg: Package) -> bytes:
    """One package as a canonical document (keys sorted): equal packages give equal bytes.

    An unset `package_manager` is left out, so a package stored before that field existed
    keeps the bytes, and the ref, it was stored under."""
    doc = dataclasses.asdict(pkg)
    if not doc["package_manager"]:
        del doc["package_manager"]
    return orjson.dumps(doc, default=json_default, option=orjson.OPT_SORT_KEYS)


def load_package(raw: bytes) -> Package:
    """The inverse of `dump_package`."""
    return package_from_dict(orjson.loads(raw))


def package_ref(doc: bytes) -> str:
    """The content hash naming a package document (see `dump_package`)."""
    return hashlib.sha256(doc).hexdigest()[:32]
