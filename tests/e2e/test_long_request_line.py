"""A request line past the HTTP layer's limit is refused with the plain-text 400 the API
document declares for it, before the application reads it."""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from tests.support.servers import start_dockwatch

PATH = "/api/v1/suppression-rules"


def test_an_overlong_url_gets_the_documented_plain_400(tmp_path: Path) -> None:
    server = start_dockwatch(tmp_path / "data", auth=False)
    try:
        with server.client() as c:
            fits: list[tuple[str, str | int | float | bool | None]] = [("arns", "a" * 128)] * 100
            assert c.get(PATH, params=fits).status_code == 200
            # one value past AWS's 128 characters is the application's own JSON 400
            r = c.get(PATH, params={"arns": "a" * 129})
            assert r.status_code == 400 and r.json()["__type"] == "ValidationException"
            declared = c.get("/api/v1/openapi.json").json()["paths"][PATH]["get"]["responses"]
        # 100 values of 128 four-byte characters: 154 KB percent-encoded (httpx refuses to
        # send a URL that long, so the request goes out through http.client)
        query = urlencode([("arns", "\U0001d4e3" * 128)] * 100)
        address = urlsplit(server.url)
        conn = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
        try:
            conn.request("GET", f"{PATH}?{query}")
            answer = conn.getresponse()
            assert answer.status == 400
            assert answer.getheader("content-type") in declared["400"]["content"]
        finally:
            conn.close()
    finally:
        server.stop()
