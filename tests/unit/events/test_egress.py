"""The SSRF guard: which addresses a webhook may reach, checked where the connection is made."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpcore
import httpx
import pytest

from dockwatch.errors import InvalidInput
from dockwatch.events.egress import EgressPolicy, ForbiddenAddress
from dockwatch.events.guarded_transport import GuardedBackend, guarded_transport

# Internal by RFC: loopback (1122, 4291), private (1918), link-local (3927, 4291) with the AWS,
# GCP and Azure metadata service, ECS task metadata, unique-local (4193) with the AWS IPv6
# metadata service, shared CGNAT space (6598), multicast (1112, 4291), unspecified, broadcast,
# and internal IPv4 wrapped in IPv6 (IPv4-mapped, 6to4 of 10.0.0.1, NAT64 of 127.0.0.1).
INTERNAL = [
    "127.0.0.1", "127.255.255.254", "::1", "10.1.2.3", "172.16.0.1", "172.31.255.255",
    "192.168.1.1", "169.254.169.254", "169.254.170.2", "fe80::1", "fd00:ec2::254", "fc00::1",
    "100.64.0.1", "224.0.0.1", "239.255.255.250", "ff02::1", "0.0.0.0", "::",
    "255.255.255.255", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "2002:a00:1::",
    "64:ff9b::7f00:1",
]  # fmt: skip
PUBLIC = ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_refused_by_default(address: str) -> None:
    assert not EgressPolicy().allows("hooks.example", address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert EgressPolicy().allows("hooks.example", address)


def test_the_allowlist_takes_cidrs_addresses_and_host_names() -> None:
    policy = EgressPolicy.parse("10.0.0.0/8, 127.0.0.1 ; Hooks.Internal.")
    assert policy.allows("x", "10.200.0.1") and policy.allows("x", "127.0.0.1")
    assert not policy.allows("x", "127.0.0.2") and not policy.allows("x", "192.168.0.1")
    assert policy.allows("hooks.internal", "192.168.0.1")  # the name is trusted, whatever it is
    with pytest.raises(InvalidInput, match="neither a CIDR nor a host name"):
        EgressPolicy.parse("http://10.0.0.1/")


def test_a_name_is_vetted_on_every_address_it_resolves_to() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return {"mixed.test": ["127.0.0.1", "8.8.8.8"], "inside.test": ["10.0.0.7", "::1"]}[host]

    assert EgressPolicy().vet("mixed.test", 443, resolver) == ["8.8.8.8"]
    with pytest.raises(ForbiddenAddress):
        EgressPolicy().vet("inside.test", 443, resolver)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.1/",
        "http://localhost:2375/containers/json",  # resolves to loopback only
        "http://[::ffff:127.0.0.1]/",
    ],
)
def test_registration_refuses_internal_receivers(url: str) -> None:
    with pytest.raises(InvalidInput, match="internal address"):
        EgressPolicy().check_url(url)


def test_registration_accepts_allowed_and_not_yet_resolvable_receivers() -> None:
    EgressPolicy.parse("127.0.0.1").check_url("http://127.0.0.1:8080/hook")
    EgressPolicy().check_url("https://hooks.example/in")  # .example never resolves


@pytest.fixture
def echo() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on 127.0.0.1 recording the Host header of each request."""
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hosts.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], hosts
    server.shutdown()
    server.server_close()


def test_the_connection_goes_to_the_vetted_address_with_the_original_host(
    echo: tuple[int, list[str]],
) -> None:
    port, hosts = echo
    lookups: list[str] = []

    def resolver(host: str, _port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    allowed = guarded_transport(
        EgressPolicy.parse("127.0.0.1/32"), verify=True, max_connections=1, resolver=resolver
    )
    with httpx.Client(transport=allowed) as client:
        assert client.post(f"http://receiver.test:{port}/in").status_code == 204
    assert hosts == [f"receiver.test:{port}"] and lookups == ["receiver.test"]

    refused = guarded_transport(EgressPolicy(), verify=True, max_connections=1, resolver=resolver)
    with httpx.Client(transport=refused) as client, pytest.raises(httpx.ConnectError):
        client.post(f"http://receiver.test:{port}/in")
    assert hosts == [f"receiver.test:{port}"]  # nothing reached the receiver


def test_a_refused_connection_names_its_refusal_as_the_cause() -> None:
    """What the sender reads to log "delivery refused" rather than "could not connect"."""
    backend = GuardedBackend(EgressPolicy(), resolver=lambda host, port: ["10.0.0.7"])
    with pytest.raises(httpcore.ConnectError) as refused:
        backend.connect_tcp("inside.test", 443)
    assert isinstance(refused.value.__cause__, ForbiddenAddress)
    with pytest.raises(httpcore.ConnectError) as unix:
        backend.connect_unix_socket("/var/run/docker.sock")
    assert isinstance(unix.value.__cause__, ForbiddenAddress)
