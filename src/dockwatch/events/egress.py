"""Where webhooks may connect: public addresses only, unless the operator allows more.

A subscription URL is chosen by any API user, so without a check it reaches the server's own
network: loopback services, the cloud metadata endpoint, private ranges. Every address a
delivery connects to is vetted *after* resolution, inside the connection itself
(`guarded_transport.py`): the host name is resolved once, each resolved address is checked,
and the socket is opened to a vetted address while TLS still names the original host (SNI and
certificate check) and the request keeps its `Host` header. A DNS answer that changes between
the check and the connection (rebinding) therefore cannot swap in an internal address.

Refused by default: every address that is not globally routable (loopback, link-local with the
169.254.169.254 metadata service, private, unique-local with fd00:ec2::254, shared, reserved,
unspecified, documentation ranges), multicast, and internal addresses wrapped in IPv6 forms
(IPv4-mapped, 6to4, NAT64). `DOCKWATCH_WEBHOOK_ALLOW` lists CIDRs or host names that internal
receivers may use.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from dockwatch.errors import InvalidInput
from dockwatch.value_class import frozen

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2")
)
"""Cloud metadata endpoints, named so the rule does not hang on range flags alone."""


class ForbiddenAddress(Exception):
    """A webhook host resolved only to addresses deliveries may not reach (at delivery, the
    cause of the connection error the guarded connection raises: `guarded_transport.py`)."""


def resolve(host: str, port: int) -> list[str]:
    """Every address of `host` (IPv4 and IPv6), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_internal(ip: IPAddress) -> bool:
    """Whether `ip` is an address a webhook must not reach without an allowlist entry."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and is_internal(embedded):
            return True
    return ip in _METADATA or ip.is_multicast or ip.is_unspecified or not ip.is_global


@frozen
class EgressPolicy:
    """The operator's allowlist; everything public is allowed, the rest only when listed."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, value: str | None) -> EgressPolicy:
        """`10.0.0.0/8, 127.0.0.1, hooks.internal`: CIDRs, addresses or host names."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for item in (value or "").replace(";", ",").split(","):
            entry = item.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if not all(part.isalnum() or part in "-._" for part in entry):
                raise InvalidInput(f"webhook_allow: {entry!r} is neither a CIDR nor a host name")
            hosts.add(_host_key(entry))
        return cls(tuple(networks), frozenset(hosts))

    def allows(self, host: str, address: str) -> bool:
        """Whether a delivery to `host` may connect to `address`."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not is_internal(ip):
            return True
        if _host_key(host) in self.hosts:
            return True
        return any(ip.version == n.version and ip in n for n in self.networks)

    def vet(self, host: str, port: int, resolver: Resolver = resolve) -> list[str]:
        """The addresses of `host` a delivery may use; `ForbiddenAddress` when there are none
        (an `OSError` when the name does not resolve)."""
        literal = host.strip("[]")
        try:
            candidates = [str(ipaddress.ip_address(literal))]
        except ValueError:
            candidates = resolver(literal, port)
        allowed = [a for a in candidates if self.allows(literal, a)]
        if not allowed:
            raise ForbiddenAddress(f"{host} resolves only to addresses webhooks may not reach")
        return allowed

    def check_url(self, url: str, resolver: Resolver = resolve) -> None:
        """Registration check: `InvalidInput` when the URL's host is a forbidden literal or
        resolves only to forbidden addresses. A name that does not resolve yet is accepted:
        delivery checks again every time."""
        import httpx  # parsed as the delivery's client will; not needed before (40 ms)

        parsed = httpx.URL(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            self.vet(parsed.host, port, resolver)
        except ForbiddenAddress as exc:
            raise InvalidInput(
                f"url {url!r} points at an internal address (loopback, private, link-local, "
                "multicast or cloud metadata), which webhooks may not reach; an operator can "
                "allow internal receivers with DOCKWATCH_WEBHOOK_ALLOW"
            ) from exc
        except OSError:
            return


def _host_key(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()
