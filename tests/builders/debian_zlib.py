"""A Debian 12 image with zlib1g installed and an OSV advisory that it is below the fix of: the
smallest image both scan types report (OS packages count for basic scanning too).

The advisory is written here (`DEBIAN-CVE-2099-1`, aliased CVE-2099-1111, fixed in
1:1.2.13.dfsg-1+deb12u1); by dpkg's ordering the installed 1:1.2.13.dfsg-1 is below the fix
(the fix only adds a `+deb12u1` suffix), so the image has exactly that one OS finding.
"""

from __future__ import annotations

from typing import Any

from .layers import Image, make_image, make_layer

CVE = "CVE-2099-1111"
"""The one finding the image gets from `ADVISORY` (basic `name`, enhanced `vulnerabilityId`)."""

ADVISORY: dict[str, Any] = {
    "id": "DEBIAN-CVE-2099-1",
    "aliases": [CVE],
    "modified": "2026-11-01T00:00:00Z",
    "affected": [
        {
            "package": {"ecosystem": "Debian:12", "name": "zlib"},
            "ranges": [
                {
                    "type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"fixed": "1:1.2.13.dfsg-1+deb12u1"}],
                }
            ],
        }
    ],
}


def zlib_image(seed: str, extra: dict[str, str] | None = None) -> Image:
    """A Debian 12 root with zlib1g 1:1.2.13.dfsg-1 (source zlib), a seed file so each image is
    its own, and any `extra` files."""
    status = (
        "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\n"
        "Architecture: amd64\nSource: zlib\n\n"
    )
    files = {
        "etc/os-release": 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
        "var/lib/dpkg/status": status,
        "seed": seed,
        **(extra or {}),
    }
    return make_image([make_layer(files)])
