"""A jar bomb under the default limits, in a subprocess capped at 512 MB of address space.

Issue 3 asks that hostile input never takes memory above a fixed cap: the child process reads an
archive whose nested "jars" expand to 60 MB each (6 of them, 360 MB in all, from a ~400 kB file),
next to a good nested jar, and must finish with the good package and budget problems.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.unit.catalog.java.jars import jar

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
    from dockwatch.catalog.java.parse_archive import scan_archive
    data = open(sys.argv[1], "rb").read()
    scan = scan_archive("/bomb.jar", data)
    print(json.dumps({"packages": [p.name for p in scan.packages], "problems": scan.problems}))
    """
)


def test_jar_bomb_stays_under_512_mb(tmp_path: Path) -> None:
    zeros = bytes(60 << 20)
    members = {f"BOOT-INF/lib/bomb{i}.jar": zeros for i in range(6)}
    members["BOOT-INF/lib/good.jar"] = jar({}, poms=(("g", "good", "1"),))
    bomb = tmp_path / "bomb.jar"
    bomb.write_bytes(jar(members))
    assert bomb.stat().st_size < 2 << 20
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(bomb)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["packages"] == ["g:good"]
    reasons = [why for _, why in result["problems"]]
    assert any("size budget" in r for r in reasons)  # the shared 256 MB budget ran out
    assert any("unreadable archive" in r for r in reasons)  # 60 MB of zeros is not a zip
