"""Endpoint strings: ``transport://address``, parsed and checked at once.

A malformed endpoint or an unknown transport raises :class:`EndpointError`
(also a ``ValueError``) from ``bind``/``connect`` before anything happens.
Nothing here does I/O: a bind host that is an interface or host name is
looked up by the tcp transport, a connect host name is resolved at each
connection.
"""

from __future__ import annotations

import ipaddress

import attrs

from ._errors import EndpointError

#: Transports libzmq knows that trio_zmq does not serve yet.
_NOT_YET = {"pgm", "epgm", "norm", "ws", "wss", "tipc", "vmci", "udp"}

#: Linux's ``sun_path`` holds 108 bytes, the terminating NUL included.
IPC_PATH_MAX = 107


@attrs.frozen
class TcpAddress:
    """``tcp://host:port``, with ``tcp://source;host:port`` for connect.

    For bind, ``host`` is ``*`` (every interface), a numeric address, an
    interface name or a host name, and port 0 is any. For connect, ``host`` is a numeric
    address or a DNS name, and ``source`` the local address to bind first.
    """

    host: str
    port: int
    source: TcpAddress | None = None
    #: The transport that serves this address (a key of ``_transports.TRANSPORTS``).
    scheme = "tcp"

    @property
    def is_ipv6_literal(self) -> bool:
        return ":" in self.host

    @property
    def needs_ipv6(self) -> bool:
        """A literal IPv6 address here or in the source (needs ``ipv6=True``)."""
        return self.is_ipv6_literal or (self.source is not None and self.source.needs_ipv6)

    def __str__(self) -> str:
        host = f"[{self.host}]" if self.is_ipv6_literal else self.host
        main = f"tcp://{host}:{self.port}"
        if self.source is not None:
            return f"{str(self.source).removeprefix('tcp://')};{main.removeprefix('tcp://')}"
        return main


@attrs.frozen
class IpcAddress:
    """``ipc://path``; ``ipc://@name`` is Linux's abstract namespace, ``ipc://*`` any path."""

    path: str
    scheme = "ipc"

    @property
    def abstract(self) -> bool:
        return self.path.startswith("@")

    @property
    def wildcard(self) -> bool:
        return self.path == "*"

    @property
    def sockaddr(self) -> str:
        """The address for ``socket.bind``/``connect`` (abstract names start with NUL)."""
        return "\0" + self.path[1:] if self.abstract else self.path

    def __str__(self) -> str:
        return f"ipc://{self.path}"


@attrs.frozen
class InprocAddress:
    """``inproc://name``: a socket of the same Context, no network at all."""

    name: str
    scheme = "inproc"

    def __str__(self) -> str:
        return f"inproc://{self.name}"


Address = TcpAddress | IpcAddress | InprocAddress


def parse_endpoint(endpoint: str, *, bind: bool) -> Address:
    """Parse an endpoint for ``bind`` (``bind=True``) or ``connect``."""
    if not isinstance(endpoint, str):
        raise TypeError(f"endpoint must be a str, not {type(endpoint).__name__}")
    transport, sep, address = endpoint.partition("://")
    if not sep:
        raise EndpointError(f"{endpoint!r} is not an endpoint (transport://address)")
    if transport == "tcp":
        return _parse_tcp(endpoint, address, bind=bind)
    if transport == "ipc":
        return _parse_ipc(endpoint, address, bind=bind)
    if transport == "inproc":
        if not address:
            raise EndpointError(f"{endpoint!r} needs a name")
        if address == "*":
            raise EndpointError(f"inproc names have no wildcard ({endpoint!r})")
        return InprocAddress(address)
    if transport in _NOT_YET:
        raise EndpointError(f"the {transport!r} transport is not supported yet ({endpoint!r})")
    raise EndpointError(f"unknown transport {transport!r} in {endpoint!r}")


def _parse_ipc(endpoint: str, path: str, *, bind: bool) -> IpcAddress:
    if not path or path == "@":
        raise EndpointError(f"{endpoint!r} needs a path")
    if "\0" in path:
        raise EndpointError(f"{endpoint!r}: a path cannot hold NUL")
    if path == "*" and not bind:
        raise EndpointError(f"cannot connect to {endpoint!r}")
    address = IpcAddress(path)
    # libzmq counts an abstract name's '@' as its NUL: the same limit for both.
    size = len(path.encode("utf-8", "surrogateescape"))
    if size > IPC_PATH_MAX:
        raise EndpointError(
            f"{endpoint!r}: the path is {size} bytes, more than the {IPC_PATH_MAX} this "
            "platform allows"
        )
    return address


def _parse_tcp(endpoint: str, address: str, *, bind: bool) -> TcpAddress:
    source: TcpAddress | None = None
    if ";" in address:
        if bind:
            raise EndpointError(f"a source address is for connect only ({endpoint!r})")
        source_text, _, address = address.partition(";")
        source = _parse_host_port(endpoint, source_text, bind=True)
    main = _parse_host_port(endpoint, address, bind=bind)
    return attrs.evolve(main, source=source) if source is not None else main


def _parse_host_port(endpoint: str, address: str, *, bind: bool) -> TcpAddress:
    host, sep, port_text = address.rpartition(":")
    if not sep or not host:
        raise EndpointError(f"{endpoint!r} needs a host and a port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if not _is_ipv6(host):
            raise EndpointError(f"bad IPv6 address {host!r} in {endpoint!r}")
    if port_text in ("*", "0") and bind:
        port = 0
    else:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise EndpointError(f"bad port {port_text!r} in {endpoint!r}")
        port = int(port_text)
    if bind:
        if host != "*" and not _is_ip(host) and not _is_hostname(host):
            raise EndpointError(
                f"bind needs '*', a numeric address, an interface or a host name, "
                f"not {host!r} ({endpoint!r})"
            )
    elif host == "*" or not (_is_ip(host) or _is_hostname(host)):
        raise EndpointError(f"bad host {host!r} in {endpoint!r}")
    return TcpAddress(host, port)


def _is_ipv6(host: str) -> bool:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_hostname(host: str) -> bool:
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
