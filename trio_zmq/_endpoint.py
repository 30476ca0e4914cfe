"""Endpoint strings: ``transport://address``, parsed and checked at once.

A malformed endpoint or an unknown transport raises :class:`EndpointError`
(also a ``ValueError``) from ``bind``/``connect`` before anything happens.
"""

from __future__ import annotations

import ipaddress

import attrs

from ._errors import EndpointError

#: Transports libzmq knows that trio_zmq does not serve yet.
_NOT_YET = {"ipc", "inproc", "pgm", "epgm", "norm", "ws", "wss", "tipc", "vmci", "udp"}


@attrs.frozen
class TcpAddress:
    """``tcp://host:port``; for bind, host ``*`` is 0.0.0.0 and port 0 is any."""

    host: str
    port: int
    #: The transport that serves this address (a key of ``_transports.TRANSPORTS``).
    scheme = "tcp"

    def __str__(self) -> str:
        return f"tcp://{self.host}:{self.port}"


def parse_endpoint(endpoint: str, *, bind: bool) -> TcpAddress:
    """Parse an endpoint for ``bind`` (``bind=True``) or ``connect``."""
    if not isinstance(endpoint, str):
        raise TypeError(f"endpoint must be a str, not {type(endpoint).__name__}")
    transport, sep, address = endpoint.partition("://")
    if not sep:
        raise EndpointError(f"{endpoint!r} is not an endpoint (transport://address)")
    if transport == "tcp":
        return _parse_tcp(endpoint, address, bind=bind)
    if transport in _NOT_YET:
        raise EndpointError(f"the {transport!r} transport is not supported yet ({endpoint!r})")
    raise EndpointError(f"unknown transport {transport!r} in {endpoint!r}")


def _parse_tcp(endpoint: str, address: str, *, bind: bool) -> TcpAddress:
    if ";" in address:
        raise EndpointError(f"source addresses are not supported yet ({endpoint!r})")
    host, sep, port_text = address.rpartition(":")
    if not sep or not host:
        raise EndpointError(f"{endpoint!r} needs a host and a port")
    if host.startswith("["):
        raise EndpointError(f"IPv6 addresses are not supported yet ({endpoint!r})")
    if port_text in ("*", "0") and bind:
        port = 0
    else:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise EndpointError(f"bad port {port_text!r} in {endpoint!r}")
        port = int(port_text)
    if bind:
        if host == "*":
            host = "0.0.0.0"
        else:
            try:
                host = str(ipaddress.IPv4Address(host))
            except ValueError:
                raise EndpointError(
                    f"bind needs an IPv4 address or '*', not {host!r} ({endpoint!r})"
                ) from None
    elif host == "*" or not _is_hostname(host):
        raise EndpointError(f"bad host {host!r} in {endpoint!r}")
    return TcpAddress(host, port)


def _is_hostname(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        pass
    else:
        return True
    if len(host) > 253 or not host.isascii():
        return False  # internationalised names must come IDNA-encoded (xn--...)
    labels = host.rstrip(".").split(".")
    return all(
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c.isalnum() or c in "-_" for c in label)
        for label in labels
    )
