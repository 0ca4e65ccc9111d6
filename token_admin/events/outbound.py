"""Outbound HTTP of event deliveries that cannot be turned against the host's network.

* **Refused addresses.** Loopback, private, shared (100.64/10), link-local, multicast,
  unspecified, reserved and every other non-global address, IPv4 and IPv6, including the IPv4
  inside IPv4-mapped, 6to4, Teredo and NAT64 addresses. Only the hosts listed in
  ``EVENTS_ALLOWED_PRIVATE_HOSTS`` (development) may resolve to them.
* **Resolved once.** The name is resolved once, every address it gives is checked, and the
  connection goes to a checked address (no second lookup a DNS rebinding could answer). The Host
  header, TLS SNI and the certificate check use the name.
* **No redirects, bounded time and size.** A 3xx is a failure; the whole exchange is cut at
  ``EVENTS_TIMEOUT_SECONDS``; only the status line and headers are read, never the body.
* **Fixed reasons.** A failure is one of the short strings below, never the receiver's answer:
  view-only staff read it in the admin.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from token_admin.events.conf import events_conf

REFUSED_ADDRESS = "refused address"
NOT_RESOLVED = "name not resolved"
CONNECTION_FAILED = "connection failed"
TIMED_OUT = "timed out"
TLS_ERROR = "TLS error"
BAD_RESPONSE = "bad response"
REDIRECT_REFUSED = "redirect refused"
BAD_URL = "bad URL"
DEADLINE_PASSED = "deadline passed"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Not global although Python's is_global says so (or did, before 3.12.4 / 3.11.10).
_ALSO_REFUSED = tuple(
    ipaddress.ip_network(network)
    for network in ("100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "2001::/23", "2002::/16")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def refused(address: IPAddress) -> bool:
    """Whether deliveries refuse ``address`` (see the module docstring)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and refused(embedded):
            return True
        if address.ipv4_mapped is not None:
            return False  # a public IPv4 address, written the IPv6 way
    return (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
        or any(address.version == network.version and address in network for network in _ALSO_REFUSED)
    )


def allowed_host(host: str) -> bool:
    """Whether ``EVENTS_ALLOWED_PRIVATE_HOSTS`` lists ``host`` (a name or an address)."""
    listed = {name.strip("[]").lower().rstrip(".") for name in events_conf.ALLOWED_PRIVATE_HOSTS}
    return host.lower().rstrip(".") in listed


def literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def refused_at_save(url: str) -> bool:
    """What a receiver's URL refuses before any lookup: a refused address written in it, or a
    name that is loopback by definition (``localhost``, RFC 6761). Other names are checked at
    delivery, after resolving them."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    if not host or allowed_host(host):
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = literal(host)
    return address is not None and refused(address)


class Failed(Exception):
    """A delivery attempt that failed; ``reason`` is one of the fixed strings."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


@dataclass
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: list[tuple[int, Any]]  # (family, sockaddr), each one checked


def resolve(url: str) -> Target:
    """Parse ``url`` and resolve its host once; Failed if any address it gives is refused."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Failed(BAD_URL) from None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise Failed(BAD_URL)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise Failed(NOT_RESOLVED) from None
    if not found:
        raise Failed(NOT_RESOLVED)
    if not allowed_host(host):
        for *_, sockaddr in found:
            # An IPv6 sockaddr may carry a zone ("fe80::1%eth0"): checked without it.
            if refused(ipaddress.ip_address(str(sockaddr[0]).split("%")[0])):
                raise Failed(REFUSED_ADDRESS)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    addresses = [(int(family), sockaddr) for family, _, _, _, sockaddr in found]
    return Target(parts.scheme, host, port, path, addresses)


def _connect(addresses: Iterable[tuple[int, Any]], timeout: float | None) -> socket.socket:
    error: OSError | None = None
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as failure:
            sock.close()
            error = failure
    assert error is not None
    raise error


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to an address resolved and checked before (the Host header: the name)."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.target = target

    def connect(self) -> None:
        self.sock = _connect(self.target.addresses, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """The same with TLS: SNI and the certificate's name check use the name, not the address."""

    def __init__(self, target: Target, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self.tls)
        self.target = target

    def connect(self) -> None:
        sock = _connect(self.target.addresses, self.timeout)
        try:
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.target.host)
        except BaseException:
            sock.close()
            raise


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to ``url``; the 2xx status, or Failed with a fixed reason."""
    timeout = float(events_conf.TIMEOUT_SECONDS)
    target = resolve(url)
    connection_class = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = connection_class(target, timeout)
    # The socket timeout bounds each read; this bounds the whole exchange (a receiver that
    # answers a byte at a time).
    cut = threading.Event()

    def cut_off() -> None:
        cut.set()
        if connection.sock is not None:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, cut_off)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        status = connection.getresponse().status
        if cut.is_set():  # the cut-off can end a half-read head that still parses
            raise Failed(TIMED_OUT)
    except TimeoutError:
        raise Failed(TIMED_OUT) from None
    except (ssl.SSLError, ssl.CertificateError):
        raise Failed(TIMED_OUT if cut.is_set() else TLS_ERROR) from None
    except http.client.HTTPException:
        raise Failed(TIMED_OUT if cut.is_set() else BAD_RESPONSE) from None
    except OSError:
        raise Failed(TIMED_OUT if cut.is_set() else CONNECTION_FAILED) from None
    finally:
        watchdog.cancel()
        connection.close()
    if 300 <= status < 400:
        raise Failed(REDIRECT_REFUSED, status)
    if not 200 <= status < 300:
        raise Failed(f"HTTP {status}", status)
    return status
