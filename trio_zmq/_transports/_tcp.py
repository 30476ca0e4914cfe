"""The tcp transport: listeners and byte streams from ``tcp://`` endpoints.

Bind takes ``*`` (0.0.0.0, or ``::`` dual stack with ``ipv6=True``), a
numeric address, an interface name (its IPv4 address, or with ``ipv6=True``
its IPv6 one, as libzmq), or a host name resolved once (libzmq 4.3.5 does
that too). Connect resolves
a host name at each attempt (IPv4 only unless ``ipv6=True``), binds the
source address first if the endpoint has one, and tries each address the
name resolves to in turn. Accepted and connected sockets get the TCP
keepalive options.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket as _stdlib_socket
import struct
from pathlib import Path

import trio

from .._endpoint import TcpAddress
from .._errors import EndpointError
from .._options import Options
from ._listener import SocketListener, connect_socket

#: libzmq's default listen backlog (ZMQ_BACKLOG).
BACKLOG = 100

_SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


async def open_listener(address: TcpAddress, options: Options) -> SocketListener:
    """Bind and listen; the listener knows the resolved endpoint.

    A checkpoint. Raises OSError (e.g. address in use) if the address cannot
    be bound, EndpointError for an interface with no usable address.
    """
    family, host = await _bind_host(address.host, ipv6=options.ipv6)
    sock = trio.socket.socket(family, _stdlib_socket.SOCK_STREAM)
    try:
        sock.setsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_REUSEADDR, 1)
        if family == _stdlib_socket.AF_INET6:
            # '*' with ipv6 is dual stack, as libzmq makes it.
            sock.setsockopt(_stdlib_socket.IPPROTO_IPV6, _stdlib_socket.IPV6_V6ONLY, 0)
        await sock.bind((host, address.port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    bound_host, port = sock.getsockname()[:2]
    endpoint = f"tcp://{_bracketed(bound_host)}:{port}"
    return SocketListener(sock, endpoint, configure=lambda s: configure(s, options))


async def connect(address: TcpAddress, options: Options) -> trio.SocketStream:
    """Open a TCP connection. A checkpoint; raises OSError on failure."""
    family = _stdlib_socket.AF_UNSPEC if options.ipv6 else _stdlib_socket.AF_INET
    infos = await trio.socket.getaddrinfo(
        address.host, address.port, family, _stdlib_socket.SOCK_STREAM
    )
    error: OSError = OSError(f"{address.host} resolves to no usable address")
    for fam, kind, proto, _, sockaddr in infos:
        sock = trio.socket.socket(fam, kind, proto)
        try:
            if address.source is not None:
                await _bind_source(sock, fam, address.source)
            configure(sock, options)
        except BaseException as exc:
            sock.close()
            if not isinstance(exc, OSError):
                raise
            error = exc
            continue
        try:
            return await connect_socket(sock, sockaddr, options.connect_timeout)
        except OSError as exc:
            error = exc
    raise error


def configure(sock: trio.socket.SocketType, options: Options) -> None:
    """Apply the TCP keepalive options that are set (the OS defaults otherwise)."""
    if options.tcp_keepalive is not None:
        sock.setsockopt(
            _stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_KEEPALIVE, int(options.tcp_keepalive)
        )
    for value, name in (
        (options.tcp_keepalive_idle, "TCP_KEEPIDLE"),
        (options.tcp_keepalive_cnt, "TCP_KEEPCNT"),
        (options.tcp_keepalive_intvl, "TCP_KEEPINTVL"),
    ):
        if value is not None and hasattr(_stdlib_socket, name):
            sock.setsockopt(_stdlib_socket.IPPROTO_TCP, getattr(_stdlib_socket, name), value)


async def _bind_source(sock: trio.socket.SocketType, family: int, source: TcpAddress) -> None:
    """Bind the source address; OSError (the attempt fails, and is retried) if it cannot."""
    if source.host == "*":
        host = "::" if family == _stdlib_socket.AF_INET6 else "0.0.0.0"
    else:
        try:
            source_family, host = await _bind_host(
                source.host, ipv6=family == _stdlib_socket.AF_INET6
            )
        except EndpointError as exc:  # unresolvable now: a failed attempt, not a crash
            raise OSError(str(exc)) from None
        if source_family != family:
            raise OSError(f"source {host} is not of the destination's address family")
    # As libzmq: one source port may serve connections to several servers.
    sock.setsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_REUSEADDR, 1)
    await sock.bind((host, source.port))


async def _bind_host(host: str, *, ipv6: bool) -> tuple[int, str]:
    """(family, numeric host) to bind for ``*``, an address, an interface or a name."""
    if host == "*":
        return (_stdlib_socket.AF_INET6, "::") if ipv6 else (_stdlib_socket.AF_INET, "0.0.0.0")
    try:
        ip = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        pass
    else:
        return (_stdlib_socket.AF_INET6 if ip.version == 6 else _stdlib_socket.AF_INET), host
    if _is_interface(host):
        return _interface_address(host, ipv6=ipv6)
    family = _stdlib_socket.AF_UNSPEC if ipv6 else _stdlib_socket.AF_INET
    try:
        infos = await trio.socket.getaddrinfo(
            host, None, family, _stdlib_socket.SOCK_STREAM, 0, _stdlib_socket.AI_PASSIVE
        )
    except _stdlib_socket.gaierror as exc:
        raise EndpointError(f"cannot bind to {host!r}: {exc}") from None
    fam, _, _, _, sockaddr = infos[0]
    return fam, str(sockaddr[0])


def _is_interface(name: str) -> bool:
    try:
        return any(n == name for _, n in _stdlib_socket.if_nameindex())
    except OSError:  # pragma: no cover - platforms without if_nameindex
        return False


def _interface_address(name: str, *, ipv6: bool) -> tuple[int, str]:
    """An interface's IPv4 address, or with ``ipv6`` its IPv6 one (as libzmq chooses)."""
    if ipv6:
        for address in _interface_ipv6_addresses(name):
            return _stdlib_socket.AF_INET6, address
        raise EndpointError(f"interface {name!r} has no IPv6 address to bind")
    probe = _stdlib_socket.socket(_stdlib_socket.AF_INET, _stdlib_socket.SOCK_DGRAM)
    try:
        request = struct.pack("256s", name.encode()[:15])
        reply = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
    except OSError:
        raise EndpointError(f"interface {name!r} has no IPv4 address to bind") from None
    finally:
        probe.close()
    return _stdlib_socket.AF_INET, _stdlib_socket.inet_ntoa(reply[20:24])


def _interface_ipv6_addresses(name: str) -> list[str]:
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) == 6 and fields[5] == name:
            text = ":".join(fields[0][i : i + 4] for i in range(0, 32, 4))
            address = str(ipaddress.IPv6Address(text))
            found.append(f"{address}%{name}" if address.startswith("fe80") else address)
    return found


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
