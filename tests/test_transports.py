"""Transports: ipc, tcp over IPv6, interface names, source addresses, and their options.

Covers the ipc transport (paths, Linux's abstract namespace, ``ipc://*``,
socket files removed on unbind/close, stale files replaced, live listeners
left alone), tcp over IPv6 (``ipv6``, dual stack ``*``), binding to an
interface name, connecting from a source address, the TCP keepalive options,
``immediate``, ``connect_timeout``, ``reconnect_ivl=-1`` and the endpoints
that must be refused at once. Each network feature is checked between two
trio_zmq sockets and against real libzmq (pyzmq), in both directions where
both can bind.

Loopback only: 127.0.0.1, 127.0.0.2, ::1 and interface ``lo``; ipc paths live
under pytest's ``tmp_path`` and abstract names carry a random suffix.

Not here: ``handshake_ivl`` against a silent raw TCP client is already
covered by ``test_bad_peers.py`` (the ``silent`` bad peer).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import socket
import stat
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import zmq

import trio_zmq
from trio_zmq._endpoints import BoundEndpoint, Connecter

from .helpers import LOOPBACK, free_endpoint, release_endpoint, wait_for_peers, wait_until
from .libzmq_peer import LibzmqSocket, libzmq_socket

DIRECTIONS = ["trio_binds", "libzmq_binds"]
direction_param = pytest.mark.parametrize("direction", DIRECTIONS)
IPC_KINDS = ["path", "abstract"]
ipc_kind_param = pytest.mark.parametrize("kind", IPC_KINDS)

#: The longest ipc address libzmq accepts (``sun_path`` is 108 bytes with its NUL).
IPC_PATH_MAX = 107


# --- helpers ------------------------------------------------------------------


def abstract_endpoint() -> str:
    return f"ipc://@trio-zmq-test-{secrets.token_hex(8)}"


def ipc_endpoint(tmp_path: Path, kind: str, name: str = "sock") -> str:
    """A fresh ipc endpoint: a path under ``tmp_path`` or an abstract name."""
    return abstract_endpoint() if kind == "abstract" else f"ipc://{tmp_path / name}"


def ipc_file(endpoint: str) -> Path:
    return Path(endpoint.removeprefix("ipc://"))


def is_socket_file(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except FileNotFoundError:
        return False


def path_of_length(tmp_path: Path, size: int) -> str:
    """A path under ``tmp_path`` exactly ``size`` bytes long."""
    base = f"{tmp_path}/"
    assert len(base.encode()) < size
    return base + "x" * (size - len(base.encode()))


def port_of(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def free_port(host: str) -> int:
    """A TCP port that nothing uses on ``host`` right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


async def exchange(sock: trio_zmq.Socket, peer: trio_zmq.Socket | LibzmqSocket) -> None:
    """One message each way between two connected PAIR sockets."""
    await sock.send(b"to the peer")
    assert await peer.recv() == b"to the peer"
    await peer.send(b"to trio_zmq")
    assert await sock.recv() == b"to trio_zmq"


async def raises_at_once(
    call: Callable[[], Awaitable[object]],
    exc: type[BaseException] = trio_zmq.EndpointError,
    match: str | None = None,
) -> None:
    """``await call()`` raises ``exc`` before its first checkpoint (even when cancelled)."""
    raised = False
    with trio.CancelScope() as scope:
        scope.cancel()  # a checkpoint before the error would raise Cancelled instead
        with pytest.raises(exc, match=match):
            await call()
        raised = True
    assert raised, "the call checkpointed before raising"


async def bind_when_free(peer: LibzmqSocket, endpoint: str) -> None:
    """libzmq closes its listener in its I/O thread: bind again once the port is free."""
    while True:
        try:
            peer.bind_to(endpoint)
        except zmq.ZMQError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            await trio.sleep(0.01)
        else:
            return


def connected_socket(sock: trio_zmq.Socket, endpoint: str) -> trio.socket.SocketType:
    """The OS socket of the connection ``sock`` made to ``endpoint`` (internals)."""
    [connecter] = sock._connecters[endpoint]
    assert isinstance(connecter, Connecter)
    peer = connecter._peer
    assert peer is not None
    assert isinstance(peer.stream, trio.SocketStream)
    return peer.stream.socket


def accepted_sockets(sock: trio_zmq.Socket, endpoint: str) -> list[trio.socket.SocketType]:
    """The OS sockets of the connections accepted on ``endpoint`` (internals)."""
    bound = sock._bound[endpoint]
    assert isinstance(bound, BoundEndpoint)
    streams = [peer.stream for peer in bound.peers]
    assert all(isinstance(s, trio.SocketStream) for s in streams)
    return [s.socket for s in streams if isinstance(s, trio.SocketStream)]


def keepalive_settings(sock: trio.socket.SocketType | socket.socket) -> tuple[int, ...]:
    """(SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPCNT, TCP_KEEPINTVL) of an OS socket."""
    return (
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
    )


# --- ipc ----------------------------------------------------------------------


@ipc_kind_param
async def test_ipc_trio_to_trio(tmp_path: Path, kind: str) -> None:
    endpoint = ipc_endpoint(tmp_path, kind)
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PAIR) as bound,
            trio_zmq.open_socket(trio_zmq.PAIR) as connecting,
        ):
            assert await bound.bind(endpoint) == endpoint
            assert bound.last_endpoint == endpoint
            if kind == "path":
                assert is_socket_file(ipc_file(endpoint))
            connecting.connect(endpoint)
            await exchange(bound, connecting)
            await exchange(connecting, bound)


@ipc_kind_param
@direction_param
async def test_ipc_with_libzmq(
    zctx: zmq.Context[Any], tmp_path: Path, kind: str, direction: str
) -> None:
    endpoint = ipc_endpoint(tmp_path, kind)
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PAIR) as sock:
            with libzmq_socket(zctx, zmq.PAIR) as peer:
                if direction == "trio_binds":
                    assert await sock.bind(endpoint) == endpoint
                    peer.connect(endpoint)
                else:
                    peer.bind_to(endpoint)
                    sock.connect(endpoint)
                await wait_for_peers(sock, 1)
                for _ in range(2):
                    await exchange(sock, peer)


async def test_ipc_longest_path_binds_and_longer_is_refused_at_once(
    zctx: zmq.Context[Any], tmp_path: Path
) -> None:
    longest = f"ipc://{path_of_length(tmp_path, IPC_PATH_MAX)}"
    too_long = longest + "x"
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            await raises_at_once(lambda: pull.bind(too_long), match="107")
            with pytest.raises(trio_zmq.EndpointError, match="107"):
                pull.connect(too_long)
            stats = pull.statistics()
            assert (stats.bound_endpoints, stats.connected_endpoints) == (0, 0)
            assert not ipc_file(too_long).exists()
            # 107 bytes is fine, and libzmq can connect to it.
            assert await pull.bind(longest) == longest
            with libzmq_socket(zctx, zmq.PUSH) as push:
                push.connect(longest)
                await push.send(b"long path")
                assert await pull.recv() == b"long path"


async def test_ipc_abstract_name_longest_and_too_long() -> None:
    # libzmq takes an abstract address of up to 107 characters, '@' included.
    async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
        too_long = "ipc://@" + "a" * (IPC_PATH_MAX + 1)
        await raises_at_once(lambda: pull.bind(too_long))
        with pytest.raises(trio_zmq.EndpointError):
            pull.connect(too_long)
        endpoint = "ipc://@" + secrets.token_hex(8) + "a" * (IPC_PATH_MAX - 1 - 16)
        assert len(endpoint.removeprefix("ipc://")) == IPC_PATH_MAX
        assert await pull.bind(endpoint) == endpoint  # libzmq takes this one too


async def test_ipc_abstract_name_of_108_bytes_is_refused_as_by_libzmq(
    zctx: zmq.Context[Any],
) -> None:
    endpoint = "ipc://@" + secrets.token_hex(8) + "a" * (IPC_PATH_MAX - 16)
    assert len(endpoint.removeprefix("ipc://")) == IPC_PATH_MAX + 1
    with libzmq_socket(zctx, zmq.PULL) as peer, pytest.raises(zmq.ZMQError):
        peer.bind_to(endpoint)  # what libzmq does with it
    async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
        with pytest.raises(trio_zmq.EndpointError):
            pull.connect(endpoint)
        await raises_at_once(lambda: pull.bind(endpoint))


async def test_ipc_socket_file_removed_on_unbind_and_on_close(tmp_path: Path) -> None:
    first, second, third = (tmp_path / name for name in ("first", "second", "third"))
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            for path in (first, second, third):
                await pull.bind(f"ipc://{path}")
                assert is_socket_file(path)
            pull.unbind(f"ipc://{first}")
            assert not first.exists()
            assert is_socket_file(second)
            pull.close()
            assert not second.exists()
            assert not third.exists()
        # aclose (leaving the block without close) removes it too.
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            await pull.bind(f"ipc://{first}")
            assert is_socket_file(first)
        assert not first.exists()


async def test_ipc_close_leaves_a_file_that_is_not_ours(
    zctx: zmq.Context[Any], tmp_path: Path
) -> None:
    endpoint = f"ipc://{tmp_path / 'sock'}"
    with trio.fail_after(10):
        with libzmq_socket(zctx, zmq.PULL) as other:
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                await pull.bind(endpoint)
                os.unlink(ipc_file(endpoint))  # someone takes the path over
                other.bind_to(endpoint)
            assert is_socket_file(ipc_file(endpoint))  # our close left theirs alone
            async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
                push.connect(endpoint)
                await push.send(b"to the new owner")
                assert await other.recv() == b"to the new owner"


@pytest.mark.parametrize("listened", [False, True], ids=["bound", "listened"])
async def test_ipc_stale_socket_file_does_not_stop_bind(
    zctx: zmq.Context[Any], tmp_path: Path, listened: bool
) -> None:
    path = tmp_path / "stale"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    if listened:
        dead.listen(1)
    dead.close()  # as a process that died: the file stays, nobody listens
    assert is_socket_file(path)
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            assert await pull.bind(f"ipc://{path}") == f"ipc://{path}"
            with libzmq_socket(zctx, zmq.PUSH) as push:
                push.connect(f"ipc://{path}")
                await push.send(b"after the stale file")
                assert await pull.recv() == b"after the stale file"
        assert not path.exists()


@pytest.mark.parametrize("holder", ["trio", "libzmq", "trio_abstract"])
async def test_ipc_bind_to_a_live_listener_fails_and_leaves_it_working(
    zctx: zmq.Context[Any], tmp_path: Path, holder: str
) -> None:
    endpoint = ipc_endpoint(tmp_path, "abstract" if holder == "trio_abstract" else "path")
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as trio_holder,
            trio_zmq.open_socket(trio_zmq.PULL) as intruder,
        ):
            with libzmq_socket(zctx, zmq.PULL) as libzmq_holder:
                if holder == "libzmq":
                    libzmq_holder.bind_to(endpoint)
                else:
                    await trio_holder.bind(endpoint)
                identity = None if "abstract" in holder else os.stat(ipc_file(endpoint)).st_ino

                with pytest.raises(OSError) as info:
                    await intruder.bind(endpoint)
                assert info.value.errno == errno.EADDRINUSE
                assert intruder.statistics().bound_endpoints == 0
                if identity is not None:
                    assert os.stat(ipc_file(endpoint)).st_ino == identity

                async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
                    push.connect(endpoint)
                    await push.send(b"still served")
                    if holder == "libzmq":
                        assert await libzmq_holder.recv() == b"still served"
                    else:
                        assert await trio_holder.recv() == b"still served"
                        assert trio_holder.statistics().peers == 1  # not the bind's probe


async def test_ipc_bind_over_a_regular_file_fails_and_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"precious")
    async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
        with pytest.raises(OSError) as info:
            await pull.bind(f"ipc://{path}")
        assert info.value.errno == errno.EADDRINUSE
    assert path.read_bytes() == b"precious"


async def test_ipc_wildcard_binds_a_fresh_path_removed_with_its_directory(
    zctx: zmq.Context[Any],
) -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            first = await pull.bind("ipc://*")
            second = await pull.bind("ipc://*")
            assert first.startswith("ipc:///")
            assert first != second
            assert pull.last_endpoint == second
            paths = [ipc_file(first), ipc_file(second)]
            assert all(is_socket_file(p) for p in paths)
            assert len(str(paths[0]).encode()) <= IPC_PATH_MAX
            with libzmq_socket(zctx, zmq.PUSH) as push:
                push.connect(first)
                push.connect(second)
                await push.send_many([[b"one"], [b"two"]])
                assert sorted([await pull.recv(), await pull.recv()]) == [b"one", b"two"]
            pull.unbind(second)
            assert not paths[1].exists()
            assert not paths[1].parent.exists()
            assert is_socket_file(paths[0])
        assert not paths[0].exists()
        assert not paths[0].parent.exists()


async def test_ipc_wildcard_cannot_be_connected_to() -> None:
    async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
        with pytest.raises(trio_zmq.EndpointError):
            push.connect("ipc://*")


@ipc_kind_param
@pytest.mark.parametrize("binder", ["trio", "libzmq"])
async def test_ipc_connect_first_then_bind_delivers_queued_messages(
    zctx: zmq.Context[Any], tmp_path: Path, kind: str, binder: str
) -> None:
    endpoint = ipc_endpoint(tmp_path, kind)
    queued = [[b"queued %d" % i] for i in range(3)]
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PUSH, reconnect_ivl=0.02) as push:
            push.connect(endpoint)
            for msg in queued:
                await push.send_multipart(msg)
            assert push.statistics().queued_outbound == 3
            if binder == "trio":
                async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                    await pull.bind(endpoint)
                    assert [await pull.recv_multipart() for _ in queued] == queued
            else:
                with libzmq_socket(zctx, zmq.PULL) as zpull:
                    zpull.bind_to(endpoint)
                    assert await zpull.recv_many(len(queued)) == queued


# --- tcp over IPv6 --------------------------------------------------------------


async def test_ipv6_trio_to_trio() -> None:
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PAIR, ipv6=True) as bound,
            trio_zmq.open_socket(trio_zmq.PAIR, ipv6=True) as connecting,
        ):
            endpoint = await bound.bind("tcp://[::1]:*")
            assert re.fullmatch(r"tcp://\[::1\]:\d+", endpoint)
            connecting.connect(endpoint)
            await exchange(bound, connecting)
            assert connected_socket(connecting, endpoint).family == socket.AF_INET6
            [accepted] = accepted_sockets(bound, endpoint)
            assert accepted.getpeername()[0] == "::1"


@direction_param
async def test_ipv6_with_libzmq(zctx: zmq.Context[Any], direction: str) -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PAIR, ipv6=True) as sock:
            with libzmq_socket(zctx, zmq.PAIR, ipv6=1) as peer:
                if direction == "trio_binds":
                    endpoint = await sock.bind("tcp://[::1]:*")
                    peer.connect(endpoint)
                else:
                    peer.bind_to("tcp://[::1]:*")
                    raw = peer.sock.getsockopt(zmq.LAST_ENDPOINT)
                    assert isinstance(raw, bytes)
                    endpoint = raw.decode()
                    assert endpoint.startswith("tcp://[::1]:")
                    sock.connect(endpoint)
                await wait_for_peers(sock, 1)
                await exchange(sock, peer)


@pytest.mark.parametrize(
    ("endpoint", "for_bind"),
    [
        ("tcp://[::1]:*", True),
        ("tcp://[::]:*", True),
        ("tcp://[::1]:{port}", False),
        ("tcp://[::1]:*;127.0.0.1:{port}", False),  # an IPv6 source address
    ],
    ids=["bind_loopback", "bind_any", "connect", "connect_from_ipv6_source"],
)
async def test_ipv6_endpoint_needs_the_ipv6_option(endpoint: str, for_bind: bool) -> None:
    destination = "::1" if "]:{port}" in endpoint else "127.0.0.1"
    endpoint = endpoint.format(port=free_port(destination))
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PUSH, linger=0) as push:
            assert push.ipv6 is False
            if for_bind:
                await raises_at_once(lambda: push.bind(endpoint), match="ipv6")
            else:
                with pytest.raises(trio_zmq.EndpointError, match="ipv6"):
                    push.connect(endpoint)
            stats = push.statistics()
            assert (stats.bound_endpoints, stats.connected_endpoints) == (0, 0)
            push.ipv6 = True  # the option is settable: now the same endpoint is fine
            if for_bind:
                await push.bind(endpoint)
            else:
                push.connect(endpoint)


async def test_ipv6_wildcard_is_dual_stack(zctx: zmq.Context[Any]) -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PULL, ipv6=True) as pull:
            endpoint = await pull.bind("tcp://*:*")
            assert re.fullmatch(r"tcp://\[::\]:\d+", endpoint)
            port = port_of(endpoint)
            async with (
                trio_zmq.open_socket(trio_zmq.PUSH) as trio_v4,
                trio_zmq.open_socket(trio_zmq.PUSH, ipv6=True) as trio_v6,
            ):
                with (
                    libzmq_socket(zctx, zmq.PUSH) as libzmq_v4,
                    libzmq_socket(zctx, zmq.PUSH, ipv6=1) as libzmq_v6,
                ):
                    trio_v4.connect(f"tcp://127.0.0.1:{port}")
                    trio_v6.connect(f"tcp://[::1]:{port}")
                    libzmq_v4.connect(f"tcp://127.0.0.1:{port}")
                    libzmq_v6.connect(f"tcp://[::1]:{port}")
                    await trio_v4.send(b"trio v4")
                    await trio_v6.send(b"trio v6")
                    await libzmq_v4.send(b"libzmq v4")
                    await libzmq_v6.send(b"libzmq v6")
                    got = {await pull.recv() for _ in range(4)}
                    assert got == {b"trio v4", b"trio v6", b"libzmq v4", b"libzmq v6"}
                    peers = {s.getpeername()[0] for s in accepted_sockets(pull, endpoint)}
                    assert peers == {"::1", "::ffff:127.0.0.1"}


async def test_wildcard_without_ipv6_is_ipv4_only() -> None:
    async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
        endpoint = await pull.bind("tcp://*:*")
        assert re.fullmatch(r"tcp://0\.0\.0\.0:\d+", endpoint)


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("binder", ["trio", "libzmq"])
async def test_connect_to_localhost(zctx: zmq.Context[Any], ipv6: bool, binder: str) -> None:
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH, ipv6=ipv6) as push,
        ):
            with libzmq_socket(zctx, zmq.PULL) as zpull:
                endpoint = await pull.bind(LOOPBACK) if binder == "trio" else zpull.bind()
                push.connect(f"tcp://localhost:{port_of(endpoint)}")
                await push.send(b"via localhost")
                receiver = pull if binder == "trio" else zpull
                assert await receiver.recv() == b"via localhost"


# --- bind to an interface name --------------------------------------------------


async def test_bind_to_interface_lo(zctx: zmq.Context[Any]) -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            endpoint = await pull.bind("tcp://lo:*")
            assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", endpoint)
            with libzmq_socket(zctx, zmq.PUSH) as push:
                push.connect(endpoint)
                await push.send(b"via lo")
                assert await pull.recv() == b"via lo"
            pull.unbind("tcp://lo:*")  # the endpoint as given works for unbind
            assert pull.statistics().bound_endpoints == 0


@pytest.mark.parametrize("endpoint", ["tcp://-bad-:*", "tcp://no such:*", "tcp://a..b:*"])
async def test_bind_to_a_malformed_name_is_refused(endpoint: str) -> None:
    async with trio_zmq.open_socket(trio_zmq.PULL, ipv6=True) as pull:
        await raises_at_once(lambda: pull.bind(endpoint))
        assert pull.statistics().bound_endpoints == 0


async def test_bind_to_a_host_name_resolves_it_as_libzmq_4_3_5(zctx: zmq.Context[Any]) -> None:
    # libzmq 4.3.5 (PR #4561) resolves a host name that is no interface: localhost
    # (from /etc/hosts, no network lookup) binds 127.0.0.1, as libzmq's own bind does.
    with libzmq_socket(zctx, zmq.PULL) as zpull:
        zpull.bind_to("tcp://localhost:*")
        raw = zpull.sock.getsockopt(zmq.LAST_ENDPOINT)
        assert isinstance(raw, bytes)
        libzmq_host = raw.decode().rsplit(":", 1)[0]
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            endpoint = await pull.bind("tcp://localhost:*")
            assert endpoint.rsplit(":", 1)[0] == libzmq_host == "tcp://127.0.0.1"
            with libzmq_socket(zctx, zmq.PUSH) as push:
                push.connect(endpoint)
                await push.send(b"via localhost")
                assert await pull.recv() == b"via localhost"


async def test_bind_to_interface_with_ipv6_takes_the_address_libzmq_takes(
    zctx: zmq.Context[Any],
) -> None:
    with libzmq_socket(zctx, zmq.PULL, ipv6=1) as zpull:
        zpull.bind_to("tcp://lo:*")
        raw = zpull.sock.getsockopt(zmq.LAST_ENDPOINT)
        assert isinstance(raw, bytes)
        libzmq_host = raw.decode().rsplit(":", 1)[0]
    async with trio_zmq.open_socket(trio_zmq.PULL, ipv6=True) as pull:
        endpoint = await pull.bind("tcp://lo:*")
    assert endpoint.rsplit(":", 1)[0] == libzmq_host


# --- source address ---------------------------------------------------------------


@pytest.mark.parametrize("source_port", ["fixed", "*"])
async def test_source_address(source_port: str) -> None:
    port = free_port("127.0.0.2") if source_port == "fixed" else None
    with trio.fail_after(10):
        [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
        async with listener, trio_zmq.open_socket(trio_zmq.PUSH, linger=0) as push:
            destination = listener.socket.getsockname()[1]
            source = f"127.0.0.2:{port if port is not None else '*'}"
            push.connect(f"tcp://{source};127.0.0.1:{destination}")
            async with await listener.accept() as stream:
                host, peer_port = stream.socket.getpeername()
                assert host == "127.0.0.2"
                if port is not None:
                    assert peer_port == port


async def test_source_address_seen_by_libzmq(zctx: zmq.Context[Any]) -> None:
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PULL) as zpull:
        destination = zpull.bind().removeprefix("tcp://")
        async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
            push.connect(f"tcp://127.0.0.2:*;{destination}")
            await push.send(b"from 127.0.0.2")
            frame = await zpull._run(lambda: zpull.sock.recv(copy=False))
            assert frame.bytes == b"from 127.0.0.2"
            assert frame.get("Peer-Address") == "127.0.0.2"


async def test_one_source_port_for_two_destinations() -> None:
    # libzmq (tcp_connecter.cpp) sets SO_REUSEADDR before binding the source,
    # "to connect to different servers using the same source port".
    port = free_port("127.0.0.2")
    with trio.fail_after(1.5):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as first,
            trio_zmq.open_socket(trio_zmq.PULL) as second,
            trio_zmq.open_socket(trio_zmq.PUSH, reconnect_ivl=0.02, linger=0) as push,
        ):
            for pull in (first, second):
                destination = (await pull.bind(LOOPBACK)).removeprefix("tcp://")
                push.connect(f"tcp://127.0.0.2:{port};{destination}")
            await wait_for_peers(push, 2)


# --- TCP keepalive ------------------------------------------------------------------

KEEPALIVE: dict[str, Any] = {
    "tcp_keepalive": 1,
    "tcp_keepalive_idle": 7,
    "tcp_keepalive_cnt": 3,
    "tcp_keepalive_intvl": 2,
}


async def test_keepalive_options_on_connected_and_accepted_sockets() -> None:
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL, **KEEPALIVE) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH, **KEEPALIVE) as push,
            trio_zmq.open_socket(trio_zmq.PUSH) as plain,
        ):
            assert pull.tcp_keepalive is True
            endpoint = await pull.bind(LOOPBACK)
            push.connect(endpoint)
            plain.connect(endpoint)
            await wait_for_peers(pull, 2)
            await wait_for_peers(push, 1)
            await wait_for_peers(plain, 1)
            assert keepalive_settings(connected_socket(push, endpoint)) == (1, 7, 3, 2)
            # The listener's options apply to every connection it accepts.
            accepted = accepted_sockets(pull, endpoint)
            assert [keepalive_settings(s) for s in accepted] == [(1, 7, 3, 2)] * 2


async def test_keepalive_options_set_as_attributes(zctx: zmq.Context[Any]) -> None:
    with trio.fail_after(10), libzmq_socket(zctx, zmq.PULL) as zpull:
        endpoint = zpull.bind()
        async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
            push.tcp_keepalive = True
            push.tcp_keepalive_idle = 11
            push.tcp_keepalive_cnt = 4
            push.tcp_keepalive_intvl = 5
            push.connect(endpoint)
            await wait_for_peers(push, 1)
            assert keepalive_settings(connected_socket(push, endpoint)) == (1, 11, 4, 5)


async def test_keepalive_minus_one_leaves_the_os_defaults() -> None:
    options: dict[str, Any] = dict.fromkeys(KEEPALIVE, -1)
    with socket.socket() as fresh:
        defaults = keepalive_settings(fresh)
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL, **options) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH, **options) as push,
        ):
            assert [getattr(push, name) for name in KEEPALIVE] == [None] * 4
            endpoint = await pull.bind(LOOPBACK)
            push.connect(endpoint)
            await wait_for_peers(pull, 1)
            await wait_for_peers(push, 1)
            assert keepalive_settings(connected_socket(push, endpoint)) == defaults
            [accepted] = accepted_sockets(pull, endpoint)
            assert keepalive_settings(accepted) == defaults


@pytest.mark.parametrize(
    ("value", "expected"), [(-1, None), (0, False), (1, True), (True, True), (None, None)]
)
async def test_keepalive_switch_values(value: object, expected: bool | None) -> None:
    async with trio_zmq.open_socket(trio_zmq.PUSH, tcp_keepalive=value) as push:
        assert push.tcp_keepalive is expected


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("tcp_keepalive", 2, (TypeError, ValueError)),
        ("tcp_keepalive", "yes", TypeError),
        ("tcp_keepalive", 1.0, TypeError),
        ("tcp_keepalive_idle", 0, ValueError),
        ("tcp_keepalive_idle", -2, ValueError),
        ("tcp_keepalive_idle", 1.5, TypeError),
        ("tcp_keepalive_cnt", 0, ValueError),
        ("tcp_keepalive_cnt", "3", TypeError),
        ("tcp_keepalive_intvl", 0, ValueError),
        ("tcp_keepalive_intvl", True, TypeError),
    ],
)
async def test_keepalive_bad_values(
    name: str, value: object, error: type[Exception] | tuple[type[Exception], ...]
) -> None:
    with pytest.raises(error, match=name):
        async with trio_zmq.open_socket(trio_zmq.PUSH, **{name: value}):  # type: ignore[arg-type]
            pass  # pragma: no cover
    async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
        before = getattr(push, name)
        with pytest.raises(error, match=name):
            setattr(push, name, value)
        assert getattr(push, name) == before


# --- immediate ------------------------------------------------------------------------


@pytest.mark.parametrize("immediate", [True, False], ids=["immediate", "queueing"])
@pytest.mark.parametrize("peer", ["trio", "libzmq"])
async def test_immediate_sends_only_to_connected_peers(
    zctx: zmq.Context[Any], immediate: bool, peer: str
) -> None:
    messages = [[b"%d" % i] for i in range(10)]
    absent = await free_endpoint()
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH, immediate=immediate, linger=0) as push,
        ):
            with libzmq_socket(zctx, zmq.PULL) as zpull:
                present = await pull.bind(LOOPBACK) if peer == "trio" else zpull.bind()
                push.connect(absent)
                push.connect(present)
                await wait_for_peers(push, 1)
                for msg in messages:
                    await push.send_multipart(msg)
                # Without immediate, round-robin queues every other one for the absent peer.
                n = len(messages) if immediate else len(messages) // 2
                if peer == "trio":
                    got = [await pull.recv_multipart() for _ in range(n)]
                else:
                    got = await zpull.recv_many(n)
                if immediate:
                    assert got == messages
                else:
                    assert len({m[0] for m in got}) == n
                    assert all(m in messages for m in got)
                await wait_until(lambda: push.statistics().queued_outbound == len(messages) - n)


@pytest.mark.parametrize("immediate", [True, False], ids=["immediate", "queueing"])
@pytest.mark.parametrize("peer", ["trio", "libzmq"])
async def test_immediate_without_any_peer_would_block(
    zctx: zmq.Context[Any], immediate: bool, peer: str
) -> None:
    endpoint = await free_endpoint()
    with trio.fail_after(10):
        async with trio_zmq.open_socket(
            trio_zmq.PUSH, immediate=immediate, reconnect_ivl=0.02, linger=0
        ) as push:
            push.connect(endpoint)
            if immediate:
                with pytest.raises(trio.WouldBlock):
                    push.send_nowait(b"nowhere to go")
                assert push.statistics().queued_outbound == 0
            else:
                push.send_nowait(b"queued")  # libzmq queues for a connect endpoint
                assert push.statistics().queued_outbound == 1
            expected = [b"after"] if immediate else [b"queued", b"after"]
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                with libzmq_socket(zctx, zmq.PULL) as zpull:
                    if peer == "trio":
                        await pull.bind(release_endpoint(endpoint))
                    else:
                        zpull.bind_to(release_endpoint(endpoint))
                    await push.send(b"after")  # with immediate: waits for the handshake
                    receiver = pull if peer == "trio" else zpull
                    assert [await receiver.recv() for _ in expected] == expected


# --- connect_timeout --------------------------------------------------------------------


@contextmanager
def blackhole() -> Iterator[tuple[int, Any]]:
    """A loopback port whose accept queue is full: the kernel drops new SYNs.

    Yields (port, close): ``close()`` ends the blackhole (the port is free again).
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=2)

    def close() -> None:
        listener.close()
        filler.close()

    try:
        with socket.socket() as probe:
            probe.settimeout(0.2)
            try:
                probe.connect(("127.0.0.1", port))
            except TimeoutError:
                pass
            else:  # pragma: no cover - a kernel that does not drop SYNs here
                pytest.skip("a full accept queue does not hang connects on this kernel")
        yield port, close
    finally:
        close()


def timed_out_attempts(caplog: pytest.LogCaptureFixture) -> int:
    return sum(
        "connect failed" in r.getMessage() and "timed out" in r.getMessage() for r in caplog.records
    )


async def test_connect_timeout_gives_up_on_a_hanging_connect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="trio_zmq")
    with trio.fail_after(10), blackhole() as (port, close):
        endpoint = f"tcp://127.0.0.1:{port}"
        async with trio_zmq.open_socket(
            trio_zmq.PUSH, connect_timeout=0.05, reconnect_ivl=0.02
        ) as push:
            push.connect(endpoint)
            await push.send(b"waited")
            # Without connect_timeout the first attempt hangs for the kernel's
            # SYN retries (minutes); with it, each attempt gives up and retries.
            await wait_until(lambda: timed_out_attempts(caplog) >= 3)
            assert push.statistics().peers == 0
            close()
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                await pull.bind(endpoint)
                assert await pull.recv() == b"waited"


@pytest.mark.parametrize(
    ("value", "error"),
    [(-0.5, ValueError), (float("nan"), ValueError), ("1", TypeError), (True, TypeError)],
)
async def test_connect_timeout_bad_values(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="connect_timeout"):
        async with trio_zmq.open_socket(trio_zmq.PUSH, connect_timeout=value):
            pass  # pragma: no cover
    async with trio_zmq.open_socket(trio_zmq.PUSH, connect_timeout=2) as push:
        with pytest.raises(error, match="connect_timeout"):
            push.connect_timeout = value  # type: ignore[assignment]
        assert push.connect_timeout == 2
        push.connect_timeout = None
        assert push.connect_timeout is None


# --- reconnect_ivl=-1 ---------------------------------------------------------------------


@pytest.mark.parametrize("reconnect_ivl", [-1, 0.02], ids=["never", "reconnects"])
async def test_reconnect_ivl_minus_one_never_reconnects(
    zctx: zmq.Context[Any], reconnect_ivl: float
) -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(
            trio_zmq.PUSH, reconnect_ivl=reconnect_ivl, linger=0
        ) as push:
            with libzmq_socket(zctx, zmq.PULL) as first:
                endpoint = first.bind()
                push.connect(endpoint)
                await push.send(b"first")
                assert await first.recv() == b"first"
            await wait_for_peers(push, 0)  # the peer went away
            second = libzmq_socket(zctx, zmq.PULL)
            with second, second.monitor(zmq.EVENT_ACCEPTED) as monitor:
                await bind_when_free(second, endpoint)
                if reconnect_ivl == -1:
                    await trio.sleep(0.3)  # checking that nothing comes
                    assert monitor.events_nowait() == []
                    assert push.statistics().connected_endpoints == 0
                    with pytest.raises(trio.WouldBlock):
                        push.send_nowait(b"nobody")
                else:
                    event, _ = await monitor.next_event()
                    assert event == zmq.EVENT_ACCEPTED
                    await push.send(b"second")
                    assert await second.recv() == b"second"


# --- endpoints refused at once ------------------------------------------------------------

BAD_ANYWHERE = [
    "tcp://nohost:",
    "tcp://127.0.0.1:",
    "tcp://127.0.0.1",
    "tcp://:5555",
    "tcp://127.0.0.1:65536",
    "tcp://127.0.0.1:x",
    "tcp://[nothex]:5555",
    "ipc://",
    "ipc://@",
    "ipc://a\0b",
    "ipc:///" + "x" * IPC_PATH_MAX,
    "inproc://",
    "foo://x",
    "127.0.0.1:5555",
]
BAD_FOR_BIND = ["tcp://-bad-:*", "tcp://127.0.0.2:*;127.0.0.1:5555"]
BAD_FOR_CONNECT = ["tcp://*:5555", "tcp://127.0.0.1:*", "ipc://*"]


@pytest.mark.parametrize("endpoint", BAD_ANYWHERE + BAD_FOR_BIND)
async def test_bad_endpoint_bind_raises_at_once(endpoint: str) -> None:
    async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
        await raises_at_once(lambda: pull.bind(endpoint))
        assert pull.statistics().bound_endpoints == 0
        assert pull.last_endpoint is None


@pytest.mark.parametrize("endpoint", BAD_ANYWHERE + BAD_FOR_CONNECT)
async def test_bad_endpoint_connect_raises_at_once(endpoint: str) -> None:
    async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
        with pytest.raises(trio_zmq.EndpointError):
            push.connect(endpoint)
        assert push.statistics().connected_endpoints == 0
        assert push.last_endpoint is None


def test_endpoint_error_is_a_value_error() -> None:
    assert issubclass(trio_zmq.EndpointError, ValueError)
