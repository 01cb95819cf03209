"""The connections of webhook deliveries: each opened only to an address `egress.py` allows.

Apart from the policy so that a server imports httpx and httpcore (about 40 ms) only when it
first delivers, not before its first answer (`bench/startup.py`).
"""

from __future__ import annotations

import typing

import httpcore
import httpx

from .egress import EgressPolicy, ForbiddenAddress, Resolver, resolve


class GuardedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to vetted addresses of the requested host. A refusal is a
    `httpcore.ConnectError` caused by `ForbiddenAddress`, so the client reports it as a failed
    connection and the sender can tell it apart (`sender.failure_text`)."""

    def __init__(self, policy: EgressPolicy, resolver: Resolver = resolve) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._policy.vet(host, port, self._resolver)
        except (ForbiddenAddress, OSError) as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        refusal = ForbiddenAddress("webhooks do not connect to unix sockets")
        raise httpcore.ConnectError(str(refusal)) from refusal

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def guarded_transport(
    policy: EgressPolicy,
    *,
    verify: bool,
    max_connections: int,
    resolver: Resolver = resolve,
) -> httpx.HTTPTransport:
    """An httpx transport whose every connection goes through `GuardedBackend`; no proxy from
    the environment (a proxy would connect on our behalf, past the check)."""
    transport = httpx.HTTPTransport(verify=verify, trust_env=False)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
        max_connections=max_connections,
        network_backend=GuardedBackend(policy, resolver),
    )
    return transport
