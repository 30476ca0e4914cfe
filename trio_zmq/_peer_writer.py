"""A connection's writer: batches out of the pipe, into the socket.

``PeerWriter`` is the write half of ``_peer.PeerConnection`` (mixed into
it): the writer task's loop, the latency path that writes a lone message
from the sender's own step (``_direct_write``), and the gathering of a
streaming batch. ``send_buffers`` writes encoded frames with ``os.writev``
calls, never joining large bodies to their headers, and takes a scheduler
pass only to wait for room (or once at the end).
"""

from __future__ import annotations

import os
import socket as _stdlib_socket
from collections.abc import Sequence

import trio

from . import _zmtp
from ._pipe import Pipe

try:
    # trio.testing.wait_all_tasks_blocked is this very function, re-exported;
    # importing trio.testing also imports pytest when it is installed (about
    # 0.15 s), which a library should not make every program pay.
    from trio._core._generated_run import wait_all_tasks_blocked as _wait_until_idle
except ImportError:  # pragma: no cover - a trio that moved it
    from trio.testing import wait_all_tasks_blocked as _wait_until_idle


#: Most buffers handed to one writev call (Linux's IOV_MAX is 1024).
IOV_MAX = 512

_TRAFFIC = _zmtp.Stage.TRAFFIC  # a global: cheaper than the enum's lookup per message

#: The most one write goes on without yielding, once the kernel takes it at once.
WRITE_ON_BUDGET = 4 * 1024 * 1024

#: A write that stops inside a buffer (a body) at least this large is a bulk
#: write: the connection gives up trio's TCP_NOTSENT_LOWAT (see ``_go_bulk``).
BULK_BODY = 512 * 1024
_TCP_FAMILIES = (_stdlib_socket.AF_INET, _stdlib_socket.AF_INET6)
#: None where the platform has no such option (trio then sets nothing either).
TCP_NOTSENT_LOWAT: int | None = getattr(_stdlib_socket, "TCP_NOTSENT_LOWAT", None)

#: A streaming batch is written once this many messages are queued ...
GATHER_MESSAGES = 256
#: ... or after this long, if the program never goes idle (see ``_gather``).
GATHER_TIMEOUT = 0.005
#: The first this many messages of a gather are watched by trio's idle detection ...
IDLE_WATCH = 16
#: ... then the gather goes on while ``STREAM_STEP`` more come within each ``STREAM_PAUSE``.
STREAM_STEP = 32
STREAM_PAUSE = 0.001


#: What the writer writes: encoded frames, or what is left of them after a partial write.
Buffer = bytes | memoryview


async def send_buffers(
    stream: trio.abc.Stream, sock: trio.socket.SocketType | None, buffers: Sequence[Buffer]
) -> None:
    """Write buffers in order: ``writev`` calls on a socket (no join), else ``send_all``.

    A checkpoint: one scheduler pass if the kernel took everything at once,
    else the waits for room and nothing more (a write that takes part of
    the buffers is followed at once by the next, not by a pass, as
    ``trio.socket``'s ``sendmsg`` would). If cancelled, an unknown part was
    written (the connection is then broken, as any cancelled stream write
    leaves it).
    """
    if sock is None:
        for buffer in buffers:
            await stream.send_all(buffer)
        return
    await trio.lowlevel.checkpoint_if_cancelled()
    fd = sock.fileno()
    pending = [b for b in buffers if len(b)]
    first = 0
    waited = False
    unyielded = 0  # bytes written since the task last yielded
    while first < len(pending):
        if unyielded >= WRITE_ON_BUDGET:  # a huge write still lets other tasks run
            await trio.lowlevel.checkpoint()
            unyielded = 0
            waited = True
        try:
            sent = os.writev(fd, pending[first : first + IOV_MAX])
        except BlockingIOError:
            try:
                await trio.lowlevel.wait_writable(fd)
            except trio.ClosedResourceError:
                if sock.fileno() < 0:
                    raise  # closed
                # Still open: a receiver that borrowed the socket was kicked
                # (``PipeSet._kick_borrower``), which woke this wait too.
            unyielded = 0
            waited = True
            continue
        unyielded += sent
        while sent:
            size = len(pending[first])
            if sent >= size:
                sent -= size
                first += 1
            else:
                pending[first] = memoryview(pending[first])[sent:]
                sent = 0
                if size >= BULK_BODY:
                    _go_bulk(sock)
    if not waited:
        await trio.lowlevel.cancel_shielded_checkpoint()


def _go_bulk(sock: trio.socket.SocketType) -> None:
    """Let the kernel take a large message in one ``writev`` from now on (sync).

    ``trio.SocketStream`` sets TCP_NOTSENT_LOWAT to 16 KiB on tcp sockets: a
    write then takes only what the peer's window lets go out now plus 16 KiB,
    and the socket is writable again only below that. A 1 MiB message went
    out in about six ``writev`` calls and waits, and the sender spent twice
    the kernel time per byte of one blocking ``sendmsg``. libzmq leaves the
    option at the kernel's default (no limit); so does a connection here
    once a write stops inside a body of ``BULK_BODY`` bytes or more (1 MiB
    over loopback: 2.8k-3.8k msg/s instead of 1.6k-2.3k). Smaller messages
    keep trio's setting: 64 KiB messages ran about 15 % slower without it,
    likely because the bytes queued in the kernel then go out from the
    receiver's CPU, when its window updates arrive. Called again on later
    partial writes of a bulk connection; setting the same value is harmless.
    """
    if TCP_NOTSENT_LOWAT is not None and sock.family in _TCP_FAMILIES:
        try:
            sock.setsockopt(_stdlib_socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT, 0)  # 0: the default
        except OSError:  # pragma: no cover - a kernel without the option
            pass


def _unsent(buffers: list[bytes], sent: int) -> list[Buffer]:
    """What is left of ``buffers`` after the first ``sent`` bytes were written (no copy)."""
    for i, buffer in enumerate(buffers):
        size = len(buffer)
        if sent < size:
            rest: list[Buffer] = list(buffers[i:])
            if sent:
                rest[0] = memoryview(buffer)[sent:]
            return rest
        sent -= size
    return []


class PeerWriter:
    """The write half of a connection (mixed into ``PeerConnection``)."""

    conn: _zmtp.Connection
    stream: trio.abc.Stream
    pipe: Pipe | None
    _socket: trio.socket.SocketType | None
    #: The connection is ending (``PeerConnection.close``).
    _closing: bool
    #: What a direct write left unwritten, for the writer to finish.
    _unfinished: list[Buffer] | None

    async def _write_loop(self, pipe: Pipe) -> None:
        try:
            await self._write_batches(pipe)
        finally:
            if self._unfinished is not None:  # a direct write the connection took with it
                self._unfinished = None
                pipe.write_done(1, lost=True)

    async def _write_batches(self, pipe: Pipe) -> None:
        conn = self.conn
        last_batch = 0
        while True:
            # The reader may have ended the connection while we were writing
            # (our scope is cancelled); stop before touching the connection.
            await trio.lowlevel.checkpoint_if_cancelled()
            if self._unfinished is not None:
                buffers, self._unfinished = self._unfinished, None
                written = False
                try:
                    await self._send_buffers(buffers)
                    written = True
                finally:
                    pipe.write_done(1, lost=not written)
                last_batch = 1
                continue
            if not pipe.has_outbound and not conn.has_data_to_send():
                if self._socket is not None:
                    pipe.direct = self._direct_write
                    if last_batch:
                        pipe.direct_armed = True
                try:
                    await pipe.wait_outbound()
                finally:
                    pipe.direct = None
                last_batch = 0
                continue
            if last_batch > 1:
                await self._gather(pipe)
            batch = pipe.take_outbound()
            written = False
            try:
                await self._send_buffers(conn.encode_messages(batch))
                written = True
            finally:
                pipe.write_done(len(batch), lost=not written)
            last_batch = len(batch)

    def _direct_write(self, msg: list[bytes]) -> bool:
        """Write one message now, from the sender's step (the writer is idle).

        Returns False, having done nothing, if the connection cannot take it
        (the message then queues as usual). What the socket does not take at
        once is left for the writer, the message counted as in flight; so is
        a write that fails, for the writer to meet the error and end the
        connection as it would have.
        """
        sock, pipe = self._socket, self.pipe
        if (
            sock is None
            or pipe is None
            or self.conn.stage is not _TRAFFIC
            or self._closing  # the connection is ending: queue it instead
        ):
            return False
        buffers = self.conn.encode_messages([msg])
        if len(buffers) > IOV_MAX:
            self._unfinished = list(buffers)
            pipe.start_direct()
            return True
        try:
            sent = os.writev(sock.fileno(), buffers)
        except BlockingIOError:
            sent = 0
        except OSError:
            sent = 0  # the writer will meet the error again and end the connection
        rest = _unsent(buffers, sent)
        if rest:
            if len(buffers[len(buffers) - len(rest)]) >= BULK_BODY:
                _go_bulk(sock)  # stopped inside a large body (the writer sees only its rest)
            self._unfinished = rest
            pipe.start_direct()
        return True

    async def _send_buffers(self, buffers: Sequence[Buffer]) -> None:
        await send_buffers(self.stream, self._socket, buffers)

    async def _gather(self, pipe: Pipe) -> None:
        """Streaming: let the next batch grow before writing it. A checkpoint.

        Only after a batch of several messages, so a lone request or reply
        is written at once. The writer sleeps, taking no scheduler pass of
        its own, until ``GATHER_MESSAGES`` are queued (or the pipe is full,
        so a blocked sender is never kept waiting), or ``GATHER_TIMEOUT``
        has passed, or the stream stops:

        - while the first ``IDLE_WATCH`` messages come, by trio's idle
          detection (``wait_all_tasks_blocked``: every task of the program
          blocked, nobody is going to add to the batch), so a short burst
          is written as soon as the program idles;
        - after that, when no ``STREAM_STEP`` more messages came within
          ``STREAM_PAUSE`` (``Pipe.write`` pushes the deadline on; 1-2 ms
          in practice, as trio's epoll wait rounds up to milliseconds): idle
          detection makes trio look at a sorted dict on every scheduler
          pass, which cost a streaming sender ~8 % of its time.

        A command to send (PONG ...) ends it too; so do ``Pipe.wake_writer``,
        ``flush_now``, ``kill`` and ``hwm_changed`` while it waits.
        """
        queued = pipe.untaken_outbound
        target = GATHER_MESSAGES
        if pipe.sndhwm:
            target = min(target, pipe.sndhwm - pipe.queued_outbound + queued)
        if queued >= target or pipe.flushing or not pipe.can_write():
            await trio.lowlevel.checkpoint()
            return
        watched = queued + IDLE_WATCH
        pipe.gather_at = min(target, watched)
        pipe.gather = scope = trio.move_on_after(GATHER_TIMEOUT)
        try:
            with scope:
                await _wait_until_idle()
        finally:
            pipe.gather = None
        if (
            not scope.cancel_called  # the program went idle
            or pipe.flushing
            or pipe.untaken_outbound < watched  # the deadline
            or pipe.untaken_outbound >= target
            or not pipe.can_write()
            or self.conn.has_data_to_send()  # a command (PONG ...) came in meanwhile
        ):
            return
        cap = scope.deadline
        now = trio.current_time()
        if now >= cap:
            return
        await PeerWriter._follow_stream(pipe, target, cap, now)

    @staticmethod
    async def _follow_stream(pipe: Pipe, target: int, cap: float, now: float) -> None:
        """The second phase of ``_gather``: wait while the stream keeps coming."""
        pipe.gather_at = min(target, pipe.untaken_outbound + STREAM_STEP)
        pipe.gather = scope = trio.CancelScope(deadline=min(now + STREAM_PAUSE, cap))

        def grew() -> None:
            queued = pipe.untaken_outbound
            if queued >= target:
                pipe.end_gather()
                return
            pipe.gather_at = min(target, queued + STREAM_STEP)
            scope.deadline = min(trio.current_time() + STREAM_PAUSE, cap)

        pipe.gather_grew = grew
        try:
            with scope:
                await trio.sleep_forever()
        finally:
            pipe.gather = None
            pipe.gather_grew = None
