"""Release files as the distributions' own base images ship them (os-release(5) text).

Ubuntu: `/usr/lib/os-release` of the `ubuntu:22.04` image (base-files 12ubuntu4.7) and
`/etc/lsb-release` of `ubuntu:14.04` (base-files 7.2ubuntu5.6), where os-release is a symlink
`/etc/os-release -> ../usr/lib/os-release` from 16.04 on.
"""

from __future__ import annotations

UBUNTU_2204 = """\
PRETTY_NAME="Ubuntu 22.04.5 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.5 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=jammy
"""

UBUNTU_1404_LSB = """\
DISTRIB_ID=Ubuntu
DISTRIB_RELEASE=14.04
DISTRIB_CODENAME=trusty
DISTRIB_DESCRIPTION="Ubuntu 14.04.6 LTS"
"""

UBUNTU_DEBIAN_VERSION = "bookworm/sid\n"
"""`/etc/debian_version` of Ubuntu 22.04: names Debian's testing, not Ubuntu."""

WOLFI = """\
ID=wolfi
NAME="Wolfi"
PRETTY_NAME="Wolfi"
VERSION_ID="20230201"
HOME_URL="https://wolfi.dev"
"""
"""`/etc/os-release` of the `wolfi-base` image (wolfi-baselayout)."""

PHOTON_4 = """\
NAME="VMware Photon OS"
VERSION="4.0"
ID=photon
VERSION_ID=4.0
PRETTY_NAME="VMware Photon OS/Linux"
ANSI_COLOR="1;34"
HOME_URL="https://vmware.github.io/photon/"
BUG_REPORT_URL="https://github.com/vmware/photon/issues"
"""
"""`/usr/lib/os-release` of Photon OS 4.0, as its photon-release package writes it (`/etc/os-release`
links to it)."""
