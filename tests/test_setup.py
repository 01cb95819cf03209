"""The set-up promises: every external program the suite runs is installed by `make test`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.support.programs import NPM_GLOBAL, PROGRAMS, SEARCH_PATH

ROOT = Path(__file__).resolve().parents[1]


def _apt_packages() -> set[str]:
    names = set()
    for line in (ROOT / "deps" / "apt-packages.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line.split()[0])
    return names


def test_every_program_comes_from_a_listed_package() -> None:
    listed = _apt_packages()
    missing = {prog: pkg for prog, pkg in PROGRAMS.items() if pkg not in listed}
    assert missing == {}, "add these packages to deps/apt-packages.txt"


def _depends(package: str) -> set[str]:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", package],
        capture_output=True,
        text=True,
    )
    names = set()
    for alt in out.stdout.replace("|", ",").split(","):
        name = alt.strip().split(" ")[0].split(":")[0]
        if name:
            names.add(name)
    return names


def test_programs_belong_to_the_packages_named() -> None:
    """`dpkg -S` agrees with the table (the package or one it depends on owns the program),
    for every program installed here."""
    for program, package in PROGRAMS.items():
        path = shutil.which(program, path=SEARCH_PATH)
        if path is None:
            continue
        real = os.path.realpath(path)
        owners: set[str] = set()
        for candidate in {
            path,
            real,
            real.replace("/usr/bin/", "/bin/"),
            real.replace("/usr/sbin/", "/sbin/"),
        }:
            out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if out.returncode == 0:
                owners |= {o.strip().split(":")[0] for o in out.stdout.split(":", 1)[0].split(",")}
        assert owners & ({package} | _depends(package)), (
            f"{program} ({real}) belongs to {owners or 'no package'}, not {package}"
        )


def test_tests_run_only_listed_programs() -> None:
    """Literal program names in subprocess calls of tests/ and bench/ are all in the table."""
    call = re.compile(
        r"subprocess\.(?:run|Popen|check_output|check_call|call)\(\s*\[\s*\"([A-Za-z0-9][\w.+-]*)\""
    )
    used: dict[str, str] = {}
    for folder in ("tests", "bench", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in call.findall(path.read_text()):
                used[name] = str(path.relative_to(ROOT))
    unknown = {
        name: where
        for name, where in used.items()
        if name not in PROGRAMS and name not in NPM_GLOBAL
    }
    assert unknown == {}, "list these programs in tests/support/programs.py"


def test_makefile_installs_system_packages_before_testing() -> None:
    makefile = (ROOT / "Makefile").read_text()
    test_rule = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert "system-deps" in test_rule and "corpus" in test_rule
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")


def test_npm_programs_are_installed_by_the_setup_script() -> None:
    script = (ROOT / "scripts" / "install-system-packages.sh").read_text()
    for spec in NPM_GLOBAL.values():
        assert spec in script
