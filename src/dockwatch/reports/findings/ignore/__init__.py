"""Reading `--ignore-file`: an ignore list, an OpenVEX document or a CycloneDX VEX.

All three become `IgnoreRule`s: a vulnerability (by any of its ids) and, optionally, the packages
it is ignored for; `filters.suppress` applies them. The format is recognised from the content:

- an ignore list (YAML or JSON): `{"ignore": [{"id": "CVE-..", "package": NAME-or-PURL,
  "reason": "...", "expires": "2026-12-31"}]}`. `package` is optional (every package then);
  an entry whose `expires` day has passed no longer applies, and a warning says so.
- OpenVEX (`statements`): statements with status `not_affected` or `fixed` apply. A product
  naming this image (its manifest digest, or a `pkg:oci` purl of its name with no digest)
  applies to its `subcomponents`, or to the whole image when it lists none; a product that is a
  package purl applies to that package wherever it is; other products are other images' and
  are skipped.
- CycloneDX VEX (`bomFormat: CycloneDX` with `vulnerabilities`): analysis states
  `not_affected`, `false_positive`, `resolved` and `resolved_with_pedigree` apply, to the
  packages their `affects` refs resolve to (bom-refs of the document's components, or purls);
  a ref to the document's subject applies to the whole image, as does a vulnerability with no
  `affects`; a ref that resolves to nothing is skipped with a warning.

VEX documents have no expiry of their own. A VEX justification is kept (mapped to CycloneDX's
words) so that `--format cyclonedx-json` passes it on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from .cyclonedx_vex import parse_cyclonedx_vex
from .ignore_list import parse_ignore_list
from .openvex import parse_openvex
from .rules import IgnoreFile, IgnoreFileError, IgnoreRule, ImageIdentity, PackageSelector

MAX_BYTES = 32 * 1024 * 1024
"""Larger files are refused: an ignore list or a VEX document is written by people or tools
about one image, never this big."""


def load(path: Path, image: ImageIdentity, now: datetime) -> IgnoreFile:
    """Read and interpret the file at `path` (see the module docstring)."""
    return parse(read(path), str(path), image, now)


def read(path: Path) -> bytes:
    """The file's bytes, refusing one larger than `MAX_BYTES`."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise IgnoreFileError(str(path), f"{size} bytes is more than the {MAX_BYTES} allowed")
        return path.read_bytes()
    except OSError as exc:
        raise IgnoreFileError(str(path), exc.strerror or str(exc)) from exc


class _PlainLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: an ignore file never needs them, and aliases let a
    small file stand for an exponentially large document (a "billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "YAML aliases are not allowed", None)
        return super().compose_node(parent, index)


def _decode(data: bytes, source: str) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IgnoreFileError(source, "not UTF-8 text") from exc
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.load(text, Loader=_PlainLoader)  # a SafeLoader, minus aliases
    except yaml.YAMLError as exc:
        raise IgnoreFileError(source, f"neither JSON nor YAML ({exc})") from exc


def parse(data: bytes, source: str, image: ImageIdentity, now: datetime) -> IgnoreFile:
    """Interpret the bytes of an ignore file."""
    doc = _decode(data, source)
    if isinstance(doc, Mapping):
        if "ignore" in doc:
            return parse_ignore_list(doc, source, now)
        if "statements" in doc:
            return parse_openvex(doc, source, image)
        if str(doc.get("bomFormat", "")).lower() == "cyclonedx":
            return parse_cyclonedx_vex(doc, source, image)
    raise IgnoreFileError(
        source,
        "expected an ignore list ({ignore: [{id, package?, reason, expires?}]}), "
        "an OpenVEX document (statements) or a CycloneDX VEX (bomFormat: CycloneDX, "
        "vulnerabilities)",
    )


__all__ = [
    "MAX_BYTES",
    "IgnoreFile",
    "IgnoreFileError",
    "IgnoreRule",
    "ImageIdentity",
    "PackageSelector",
    "load",
    "parse",
    "read",
]
