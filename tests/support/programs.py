"""Every external program the tests and benchmarks run, with the Debian package that brings it.

Tests get a program's path through `require()`, which skips (saying why) when it is missing, so
a user's fresh clone without the system packages still runs the rest. `tests/test_setup.py`
checks this table against `deps/apt-packages.txt`, which the Makefile installs.
"""

from __future__ import annotations

import os
import shutil

import pytest

#: program -> Debian package that installs it
PROGRAMS: dict[str, str] = {
    "skopeo": "skopeo",
    "docker-registry": "docker-registry",
    "debootstrap": "debootstrap",
    "rpm": "rpm",
    "rpmbuild": "rpm",
    "go": "golang-go",
    "dpkg": "dpkg",
    "apt-get": "apt",
    "mount": "mount",
    "umount": "mount",
    "runuser": "util-linux",
    "openssl": "openssl",
    "dpkg-query": "dpkg",
    "db5.3_load": "db5.3-util",
    "ruby": "ruby",
    "gem": "ruby-rubygems",
    "bundle": "bundler",
    "composer": "composer",
    "cargo": "cargo",
    "objcopy": "binutils",
    "npm": "nodejs",
    "node": "nodejs",
    "sh": "dash",
    "unshare": "util-linux",
    "ip": "iproute2",
}

#: programs installed from the npm registry (`npm install -g`) by scripts/install-system-packages.sh
NPM_GLOBAL: dict[str, str] = {
    "yarn": "yarn@1",
    "pnpm": "pnpm@9",
}

#: system folders first: a Debian-packaged program wins over a user's own (rustup's cargo, say)
SEARCH_PATH = os.pathsep.join(
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin", os.environ.get("PATH", "")]
)


def require(program: str) -> str:
    """The absolute path of `program`, or skip the test saying which package is missing."""
    if program not in PROGRAMS:
        raise KeyError(f"{program} is not listed in tests/support/programs.py PROGRAMS")
    path = shutil.which(program)
    if path is None:
        pytest.skip(
            f"{program} not installed (Debian package {PROGRAMS[program]}; run `make test` as root)"
        )
    return path
