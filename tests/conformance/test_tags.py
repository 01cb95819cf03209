"""Tag listing and the catalog with pagination (spec: content discovery)."""

from __future__ import annotations

from tests.support.servers import Server

from .oci import error_codes, push_image


def _link_next(link: str) -> str:
    assert link.startswith("<") and 'rel="next"' in link
    return link[1 : link.index(">")]


def test_tags_list_and_pagination(registry: Server) -> None:
    tags = ["a", "b", "c", "d", "e"]
    with registry.client() as c:
        digest, manifest = push_image(c, "tags/repo", tags[0])
        for t in tags[1:]:
            r = c.put(
                f"/v2/tags/repo/manifests/{t}",
                content=manifest,
                headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
            )
            assert r.status_code == 201
        full = c.get("/v2/tags/repo/tags/list")
        assert full.status_code == 200
        assert full.json()["name"] == "tags/repo"
        # dockwatch lists in lexical order; distribution 2.8 only when paginating
        listed = full.json()["tags"]
        assert listed == tags if registry.kind == "dockwatch" else sorted(listed) == tags
        seen: list[str] = []
        url: str | None = "/v2/tags/repo/tags/list?n=2"
        while url:
            r = c.get(url)
            assert r.status_code == 200
            seen += r.json()["tags"]
            url = _link_next(r.headers["link"]) if "link" in r.headers else None
        if registry.kind == "distribution":
            # distribution 2.8 ignores n and last on tags/list (pagination came in 3.0)
            assert sorted(seen) == tags
            return
        assert seen == tags
        r = c.get("/v2/tags/repo/tags/list", params={"n": 2, "last": "b"})
        assert r.json()["tags"] == ["c", "d"]


def test_tags_of_unknown_repository(registry: Server) -> None:
    with registry.client() as c:
        r = c.get("/v2/tags/nothere/tags/list")
        assert r.status_code == 404
        assert error_codes(r) == ["NAME_UNKNOWN"]


def test_catalog_pagination(registry: Server) -> None:
    names = ["cat/a", "cat/b", "cat/c"]
    with registry.client() as c:
        for n in names:
            push_image(c, n, "latest")
        r = c.get("/v2/_catalog")
        assert r.status_code == 200
        assert r.json()["repositories"] == names
        first = c.get("/v2/_catalog", params={"n": 2})
        assert first.json()["repositories"] == names[:2]
        second = c.get(_link_next(first.headers["link"]))
        assert second.json()["repositories"] == names[2:]


def test_invalid_page_size(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        push_image(c, "tags/n", "latest")
        for bad in ("x", "-1"):
            r = c.get("/v2/tags/n/tags/list", params={"n": bad})
            assert r.status_code == 400
            assert error_codes(r) == ["PAGINATION_NUMBER_INVALID"]
