"""An S3-compatible server for tests: moto's server mode on a free loopback port.

The blob store and the server processes talk to it through the S3 wire protocol only (boto3
over HTTP), exactly as they would to AWS S3 or MinIO. One server is started per test session
(per xdist worker); each test gets its own bucket, so tests never see each other's objects.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .servers import free_port

REGION = "us-east-1"
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
_counter = itertools.count()
_lock = threading.Lock()


@dataclass(frozen=True)
class S3Server:
    """A running S3 endpoint and the environment that points AWS clients at it."""

    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        """The standard AWS variables for a process using this server."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }

    def client(self) -> Any:
        """A boto3 S3 client for this server (path-style addressing, as on loopback)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            config=Config(signature_version="s3v4"),
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def new_bucket(self) -> str:
        """Create a bucket no other test uses and return its name."""
        with _lock:
            name = f"dw-test-{os.getpid()}-{next(_counter)}"
        self.client().create_bucket(Bucket=name)
        return name


def start_s3() -> Iterator[S3Server]:
    """Run moto's threaded server until the generator is closed."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


class S3Calls:
    """The S3 operations a client sends, as (operation, key, bytes of the body sent), recorded
    from botocore's own event as each call is made."""

    def __init__(self, client: Any) -> None:
        self.seen: list[tuple[str, str, int]] = []
        client.meta.events.register("provide-client-params.s3", self._asked)

    def _asked(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.seen.append((model.name, params.get("Key", ""), len(params.get("Body", b""))))

    def named(self, operation: str) -> list[tuple[str, str, int]]:
        """The calls of one operation, in order."""
        return [c for c in self.seen if c[0] == operation]
