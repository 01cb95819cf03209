"""OCI 1.1 artifacts with a subject and the referrers API (distribution 2.8 has neither)."""

from __future__ import annotations

import json

from tests.support.servers import Server

from .oci import OCI_INDEX, OCI_MANIFEST, error_codes, push_image, sha256, upload

EMPTY = b"{}"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"


def _artifact(
    client: object, name: str, subject: str, subject_size: int, artifact_type: str, note: str
) -> tuple[str, bytes]:
    import httpx

    assert isinstance(client, httpx.Client)
    upload(client, name, EMPTY)
    payload = note.encode()
    upload(client, name, payload)
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY_TYPE, "digest": sha256(EMPTY), "size": 2},
        "layers": [{"mediaType": "text/plain", "digest": sha256(payload), "size": len(payload)}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
        "annotations": {"note": note},
    }
    body = json.dumps(doc).encode()
    r = client.put(
        f"/v2/{name}/manifests/{sha256(body)}", content=body, headers={"Content-Type": OCI_MANIFEST}
    )
    assert r.status_code == 201, r.text
    assert r.headers["oci-subject"] == subject
    return sha256(body), body


def test_referrers_list_and_filter(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        subject, subject_bytes = push_image(c, "ref/app", "v1", media_type=OCI_MANIFEST)
        sig, sig_bytes = _artifact(
            c, "ref/app", subject, len(subject_bytes), "application/vnd.example.signature", "sig"
        )
        sbom, _ = _artifact(
            c, "ref/app", subject, len(subject_bytes), "application/spdx+json", "sbom"
        )
        r = c.get(f"/v2/ref/app/referrers/{subject}")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(OCI_INDEX)
        index = r.json()
        assert index["mediaType"] == OCI_INDEX
        by_digest = {d["digest"]: d for d in index["manifests"]}
        assert set(by_digest) == {sig, sbom}
        assert by_digest[sig] == {
            "mediaType": OCI_MANIFEST,
            "digest": sig,
            "size": len(sig_bytes),
            "artifactType": "application/vnd.example.signature",
            "annotations": {"note": "sig"},
        }
        r = c.get(
            f"/v2/ref/app/referrers/{subject}", params={"artifactType": "application/spdx+json"}
        )
        assert r.headers["oci-filters-applied"] == "artifactType"
        assert [d["digest"] for d in r.json()["manifests"]] == [sbom]
        # deleting a referrer removes it from the list
        assert c.delete(f"/v2/ref/app/manifests/{sig}").status_code == 202
        assert [
            d["digest"] for d in c.get(f"/v2/ref/app/referrers/{subject}").json()["manifests"]
        ] == [sbom]


def test_subject_may_be_missing(dockwatch: Server) -> None:
    """The spec accepts a manifest whose subject is not (yet) in the registry."""
    with dockwatch.client() as c:
        absent = sha256(b"a subject pushed later")
        digest, _ = _artifact(c, "ref/early", absent, 123, "application/vnd.example.sig", "early")
        listed = c.get(f"/v2/ref/early/referrers/{absent}").json()["manifests"]
        assert [d["digest"] for d in listed] == [digest]


def test_referrers_of_unknown_subject_is_an_empty_index(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        push_image(c, "ref/none", "v1")
        r = c.get(f"/v2/ref/none/referrers/{sha256(b'nobody')}")
        assert r.status_code == 200
        assert r.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        r = c.get("/v2/ref/none/referrers/sha256:bad")
        assert r.status_code == 400
        assert error_codes(r) == ["DIGEST_INVALID"]
