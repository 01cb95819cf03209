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


def test_referrer_without_artifact_type_falls_back_to_its_config_media_type(
    dockwatch: Server,
) -> None:
    """Image spec 1.1: a referrer with no `artifactType` is listed with its config's media
    type, and filtering by that type finds it."""
    with dockwatch.client() as c:
        subject, subject_bytes = push_image(c, "ref/fallback", "v1", media_type=OCI_MANIFEST)
        config_type = "application/vnd.example.bagel.config+json"
        config = b'{"kind": "bagel"}'
        upload(c, "ref/fallback", config)
        layer = b"everything bagel"
        upload(c, "ref/fallback", layer)
        subject_desc = {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(subject_bytes)}
        doc = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": config_type, "digest": sha256(config), "size": len(config)},
            "layers": [{"mediaType": "text/plain", "digest": sha256(layer), "size": len(layer)}],
            "subject": subject_desc,
        }
        body = json.dumps(doc).encode()
        r = c.put(
            f"/v2/ref/fallback/manifests/{sha256(body)}",
            content=body,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert r.status_code == 201, r.text
        # an image manifest with a subject: its config is the OCI image config
        image_digest, image_bytes = push_image(
            c, "ref/fallback", "signed", seed="b", media_type=OCI_MANIFEST, subject=subject_desc
        )
        listed = c.get(f"/v2/ref/fallback/referrers/{subject}").json()["manifests"]
        assert {d["digest"]: d.get("artifactType") for d in listed} == {
            sha256(body): config_type,
            image_digest: "application/vnd.oci.image.config.v1+json",
        }
        r = c.get(f"/v2/ref/fallback/referrers/{subject}", params={"artifactType": config_type})
        assert r.headers["oci-filters-applied"] == "artifactType"
        assert [d["digest"] for d in r.json()["manifests"]] == [sha256(body)]
        r = c.get(
            f"/v2/ref/fallback/referrers/{subject}",
            params={"artifactType": "application/vnd.oci.image.config.v1+json"},
        )
        assert [d["digest"] for d in r.json()["manifests"]] == [image_digest]
        assert len(image_bytes) > 0
