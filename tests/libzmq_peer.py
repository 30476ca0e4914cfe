"""The other end of interoperability tests: real libzmq (through pyzmq) and raw ZMTP bytes.

``LibzmqSocket`` wraps a pyzmq socket for use from trio: every blocking call
runs in a worker thread (``abandon_on_cancel=True``, so the trio loop is
never blocked) and the pyzmq socket has RCVTIMEO/SNDTIMEO set, so a worker
never hangs for longer than ``timeout``. A libzmq socket is not thread-safe:
one lock serialises the worker threads, and ``close`` waits for an abandoned
worker to time out before closing the socket under it.

The second half builds and reads raw ZMTP 3.1 bytes, for wire-level checks
and for scripted misbehaving peers.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import trio
import zmq

from .helpers import INPROC_NOT_LIBZMQ, ipc_endpoint

T = TypeVar("T")

#: Longest time a pyzmq call may block (RCVTIMEO / SNDTIMEO), in seconds.
DEFAULT_TIMEOUT = 5.0


def libzmq_socket(
    context: zmq.Context[Any],
    socket_type: int,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    **options: int | bytes,
) -> LibzmqSocket:
    """A new libzmq socket; ``options`` are pyzmq option names (``rcvhwm=10``)."""
    sock = context.socket(socket_type)
    for name, value in options.items():
        sock.setsockopt(getattr(zmq, name.upper()), value)
    return LibzmqSocket(sock, timeout=timeout)


class LibzmqSocket:
    """A pyzmq socket with linger 0 and timeouts, driven from trio through threads."""

    def __init__(self, sock: zmq.Socket[bytes], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.sock = sock
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, int(timeout * 1000))
        sock.setsockopt(zmq.SNDTIMEO, int(timeout * 1000))
        self._lock = threading.Lock()

    def __enter__(self) -> LibzmqSocket:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close with linger 0, after any abandoned worker thread has finished."""
        acquired = self._lock.acquire(timeout=self.timeout + 2.0)
        try:
            self.sock.close(linger=0)
        finally:
            if acquired:
                self._lock.release()

    # --- endpoints (sync: call them while no worker thread is running) --------

    def bind(self, transport: str = "tcp") -> str:
        """Bind to a kernel-chosen loopback port, or a fresh ipc path; return the endpoint."""
        if transport == "ipc":
            endpoint = ipc_endpoint()
            self.sock.bind(endpoint)
            return endpoint
        if transport != "tcp":
            raise ValueError(f"{transport}: {INPROC_NOT_LIBZMQ}")
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        return f"tcp://127.0.0.1:{port}"

    def bind_to(self, endpoint: str) -> None:
        self.sock.bind(endpoint)

    def connect(self, endpoint: str) -> None:
        self.sock.connect(endpoint)

    # --- traffic (each call is one worker thread) ---------------------------

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        def work() -> T:
            with self._lock:
                return fn(*args)

        return await trio.to_thread.run_sync(work, abandon_on_cancel=True)

    async def send(self, data: bytes) -> None:
        await self._run(self.sock.send, data)

    async def recv(self) -> bytes:
        return await self._run(self.sock.recv)

    async def send_multipart(self, frames: Sequence[bytes]) -> None:
        await self._run(self.sock.send_multipart, frames)

    async def recv_multipart(self) -> list[bytes]:
        return await self._run(self.sock.recv_multipart)

    async def send_many(self, messages: Sequence[Sequence[bytes]]) -> None:
        """Send every message, in order, in one worker thread."""

        def send_all() -> None:
            for msg in messages:
                self.sock.send_multipart(msg)

        await self._run(send_all)

    async def recv_many(self, n: int) -> list[list[bytes]]:
        """Receive ``n`` messages in one worker thread."""
        return await self._run(lambda: [self.sock.recv_multipart() for _ in range(n)])

    # --- monitoring ---------------------------------------------------------

    def monitor(self, events: int) -> LibzmqSocket:
        """A monitor for ``events`` (start it before bind/connect); read it with ``next_event``."""
        return LibzmqSocket(self.sock.get_monitor_socket(events), timeout=self.timeout)

    async def next_event(self) -> tuple[int, int]:
        """On a monitor socket: the next (event, value), waiting for it."""
        return _parse_event(await self.recv_multipart())

    def events_nowait(self) -> list[tuple[int, int]]:
        """On a monitor socket: every (event, value) already there, without blocking."""
        events = []
        with self._lock:
            while self.sock.poll(0):
                events.append(_parse_event(self.sock.recv_multipart(zmq.NOBLOCK)))
        return events


def _parse_event(frames: list[bytes]) -> tuple[int, int]:
    event, value = struct.unpack("=HI", frames[0])  # host byte order (digest 3.4)
    return event, value


# --- raw ZMTP 3.1 bytes -------------------------------------------------------

MORE = 0x01
LONG = 0x02
COMMAND = 0x04


def tcp_address(endpoint: str) -> tuple[str, int]:
    """``tcp://host:port`` -> ``(host, port)``."""
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    return host, int(port)


def greeting(
    mechanism: bytes = b"NULL", *, major: int = 3, minor: int = 1, padding: bytes = bytes(8)
) -> bytes:
    """A 64-byte ZMTP 3.x greeting, built independently of trio_zmq."""
    return (
        b"\xff"
        + padding
        + b"\x7f"
        + bytes((major, minor))
        + mechanism.ljust(20, b"\x00")
        + b"\x00"  # as-server
        + bytes(31)
    )


def frame(body: bytes, flags: int = 0) -> bytes:
    """One frame; LONG is set iff the body is over 255 bytes (as libzmq does)."""
    if len(body) > 255:
        return bytes((flags | LONG,)) + len(body).to_bytes(8, "big") + body
    return bytes((flags, len(body))) + body


def command(name: bytes, data: bytes = b"") -> bytes:
    return frame(bytes((len(name),)) + name + data, COMMAND)


def ready(socket_type: bytes | None, **extra: bytes) -> bytes:
    """A READY command with ``Socket-Type`` (unless None) and any extra properties."""
    props = {} if socket_type is None else {"Socket-Type": socket_type}
    props.update(extra)
    data = b"".join(
        bytes((len(k),)) + k.encode() + len(v).to_bytes(4, "big") + v for k, v in props.items()
    )
    return command(b"READY", data)


def message(*frames: bytes) -> bytes:
    """The bytes of one multipart message."""
    last = len(frames) - 1
    return b"".join(frame(f, MORE if i < last else 0) for i, f in enumerate(frames))


class RawReader:
    """Reads exact byte counts and whole frames from a trio stream."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self._buf = bytearray()

    async def read_exactly(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = await self.stream.receive_some()
            if not chunk:
                raise EOFError(f"stream ended after {len(self._buf)} of {n} bytes")
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    async def read_frame(self) -> bytes:
        """One whole frame, header included."""
        header = await self.read_exactly(2)
        if header[0] & LONG:
            header += await self.read_exactly(7)
            size = int.from_bytes(header[1:], "big")
        else:
            size = header[1]
        return header + await self.read_exactly(size)

    async def read_until_closed(self) -> bytes:
        """Everything until the peer closes (EOF or reset); returns what was read."""
        data = bytes(self._buf)
        self._buf.clear()
        try:
            while chunk := await self.stream.receive_some():
                data += chunk
        except trio.BrokenResourceError:  # reset by the peer
            pass
        return data
