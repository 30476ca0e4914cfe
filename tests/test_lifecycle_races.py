"""Regression tests for races around closing, and for what a peer can make us hold.

Each test here failed before its fix (found in review): closing inside the
block, a send parked across a close, aclose racing close, a writer touching a
connection the reader had just broken, data sent to a PUSH, and more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.lowlevel
import trio.testing

import trio_zmq
from tests.helpers import LOOPBACK, free_endpoint, wait_until
from trio_zmq import _zmtp
from trio_zmq._options import Options
from trio_zmq._peer import Outcome, PeerConnection
from trio_zmq._pipe import Pipe


async def _checked(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run ``scenario``; fail if anything escapes it, a stray Cancelled included.

    (pytest-trio would otherwise absorb a Cancelled that leaked out of a
    socket's block, and the test would pass without reaching its asserts.)
    """
    try:
        await scenario()
    except BaseException as exc:
        pytest.fail(f"escaped the scenario: {exc!r}")


async def test_close_inside_the_block_does_not_cancel_the_block() -> None:
    reached: list[str] = []

    async def scenario() -> None:
        await _close_inside_the_block(reached)

    with trio.fail_after(5):
        await _checked(scenario)
    assert reached == [
        "ClosedResourceError",
        "still running after a checkpoint",
        "after the block",
        "after aclose",
    ]


async def _close_inside_the_block(reached: list[str]) -> None:
    if True:
        async with trio_zmq.open_socket(trio_zmq.PUSH) as sock:
            sock.close()
            try:
                await sock.send(b"x")
            except trio.ClosedResourceError:
                reached.append("ClosedResourceError")
            await trio.lowlevel.checkpoint()
            reached.append("still running after a checkpoint")
        reached.append("after the block")
        async with trio_zmq.open_socket(trio_zmq.PULL) as sock:
            await sock.aclose()
            await trio.lowlevel.checkpoint()
            reached.append("after aclose")
    assert reached == [
        "ClosedResourceError",
        "still running after a checkpoint",
        "after the block",
        "after aclose",
    ]


async def test_close_from_another_task_while_leaving_the_block() -> None:
    reached: list[str] = []
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            sock_box: list[trio_zmq.Socket] = []

            async def owner() -> None:
                async with trio_zmq.open_socket(trio_zmq.PUSH) as sock:  # lingers forever...
                    sock.connect(await free_endpoint())
                    await sock.send(b"x")
                    sock_box.append(sock)
                reached.append("owner left the block")

            nursery.start_soon(owner)
            await trio.testing.wait_all_tasks_blocked()
            sock_box[0].close()  # ...until someone closes it
        reached.append("nursery done")
    assert reached == ["owner left the block", "nursery done"]


async def test_send_parked_across_close_raises_closed_resource_error() -> None:
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            errors: list[type[BaseException]] = []
            async with trio_zmq.open_socket(trio_zmq.PUSH) as push:

                async def sender() -> None:
                    try:
                        await push.send(b"x")  # no peer: parks
                    except trio.ClosedResourceError as exc:
                        errors.append(type(exc))

                nursery.start_soon(sender)
                await trio.testing.wait_all_tasks_blocked()
            # Leaving the block closed the socket: the parked sender must wake up.
        assert errors == [trio.ClosedResourceError]


async def test_send_parked_when_aclose_starts_does_not_sneak_in() -> None:
    with trio.fail_after(5):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            endpoint = await pull.bind(LOOPBACK)
            pull.unbind(endpoint)
            async with trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=1, linger=None) as push:
                push.connect(endpoint)
                push.send_nowait(b"queued")  # the pipe is full now
                outcome: list[object] = []
                async with trio.open_nursery() as nursery:

                    async def sender() -> None:
                        try:
                            await push.send(b"late")
                            outcome.append("sent")
                        except trio.ClosedResourceError:
                            outcome.append("closed")

                    nursery.start_soon(sender)
                    await trio.testing.wait_all_tasks_blocked()
                    nursery.start_soon(push.aclose)  # lingers: the peer is away
                    await trio.testing.wait_all_tasks_blocked()
                    await pull.bind(endpoint)  # room appears while aclose lingers
                    assert await pull.recv() == b"queued"
                assert outcome == ["closed"]
            await trio.sleep(0.05)
            assert pull.statistics().messages_received == 1


async def test_aclose_returns_when_another_task_closes() -> None:
    with trio.fail_after(5):
        await _checked(_aclose_then_close)


async def _aclose_then_close() -> None:
    if True:
        async with trio_zmq.open_socket(trio_zmq.PUSH, linger=None) as push:
            push.connect(await free_endpoint())
            await push.send(b"x")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(push.aclose)
                await trio.testing.wait_all_tasks_blocked()
                push.close()
            assert push.closed


async def test_entering_the_block_is_a_checkpoint() -> None:
    manager = trio_zmq.open_socket(trio_zmq.PUSH)
    with trio.testing.assert_checkpoints():
        await manager.__aenter__()
    await manager.__aexit__(None, None, None)


async def test_messages_dropped_at_close_are_counted() -> None:
    with trio.fail_after(5):
        async with trio_zmq.open_socket(trio_zmq.PUSH, linger=0.05) as push:
            push.connect(await free_endpoint())
            for _ in range(3):
                await push.send(b"x")
        stats = push.statistics()
        assert stats.messages_dropped == 3
        assert stats.queued_outbound == 0


async def test_unread_messages_dropped_at_close_are_counted() -> None:
    with trio.fail_after(5):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
                push.connect(await pull.bind(LOOPBACK))
                for _ in range(4):
                    await push.send(b"x")
            await wait_until(lambda: pull.statistics().queued_inbound == 4)
            pull.close()
            assert pull.statistics().messages_dropped == 4


async def test_listening_stops_when_aclose_starts() -> None:
    with trio.fail_after(5):
        await _checked(_listening_stops)


async def _listening_stops() -> None:
    if True:
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            endpoint = await pull.bind(LOOPBACK)
            async with trio_zmq.open_socket(trio_zmq.PUSH, linger=None) as push:
                endpoint_push = await push.bind(LOOPBACK)
                push.connect(await free_endpoint())
                await push.send(b"x")  # lingers on this
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(push.aclose)
                    await trio.testing.wait_all_tasks_blocked()
                    port = int(endpoint_push.rsplit(":", 1)[1])
                    try:
                        stream = await trio.open_tcp_stream("127.0.0.1", port)
                    except OSError:
                        refused = True
                    else:
                        refused = False
                        await stream.aclose()
                    push.close()
                assert refused
            del endpoint


async def _handshake_as(sock_type: _zmtp.SocketType, endpoint: str) -> trio.SocketStream:
    host, port = endpoint[len("tcp://") :].rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    conn = _zmtp.Connection(sock_type)
    await stream.send_all(conn.data_to_send())
    while conn.handshake is None:
        conn.receive_data(await stream.receive_some(65536))
        if conn.has_data_to_send():
            await stream.send_all(conn.data_to_send())
    return stream


async def test_messages_sent_to_a_push_are_dropped_and_counted() -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PUSH, rcvhwm=10, linger=0) as push:
            endpoint = await push.bind(LOOPBACK)
            for _ in range(5):
                stream = await _handshake_as(_zmtp.SocketType.PULL, endpoint)
                await stream.send_all(b"\x00\x05hello" * 3000)  # a PULL should not send
                await stream.aclose()
            await wait_until(lambda: push.statistics().disconnections == 5)
            stats = push.statistics()
            assert stats.peers == 0
            assert stats.queued_inbound == 0
            assert stats.messages_dropped == 5 * 3000
            assert not push._pipeset.pipes  # nothing held for peers that are gone


async def test_rcvhwm_holds_within_one_read() -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=10) as pull:
            endpoint = await pull.bind(LOOPBACK)
            stream = await _handshake_as(_zmtp.SocketType.PUSH, endpoint)
            n = 5000
            await stream.send_all(b"".join(b"\x00\x04%04d" % i for i in range(n)))
            await wait_until(lambda: pull.statistics().queued_inbound >= 10)
            await trio.testing.wait_all_tasks_blocked(cushion=0.02)
            assert pull.statistics().queued_inbound == 10  # not the whole read
            assert [await pull.recv() for _ in range(n)] == [b"%04d" % i for i in range(n)]
            await stream.aclose()


def test_sndhwm_counts_the_batch_being_written() -> None:
    host = _FakeHost()
    pipe = Pipe(host, sndhwm=3, rcvhwm=10, endpoint="fake")
    for i in range(3):
        pipe.write([b"%d" % i])
    assert not pipe.can_write()
    batch = pipe.take_outbound()  # the writer takes them and starts writing
    assert len(batch) == 3
    assert not pipe.can_write()  # still counted until written
    assert pipe.queued_outbound == 3
    assert not pipe.flushed()
    pipe.write_done(len(batch))
    assert pipe.can_write()
    assert pipe.queued_outbound == 0
    assert pipe.flushed()


def test_writer_batches_are_capped_in_bytes() -> None:
    host = _FakeHost()
    pipe = Pipe(host, sndhwm=0, rcvhwm=10, endpoint="fake")
    for _ in range(10):
        pipe.write([b"x" * 100_000])
    assert len(pipe.take_outbound()) == 3  # 300 kB: the batch passed BATCH_BYTES
    assert pipe.queued_outbound == 10  # taken or not, none is written yet
    big = [b"y" * 10_000_000]
    pipe.write(big)
    pipe.write(big)
    assert [len(pipe.take_outbound()) for _ in range(3)] == [3, 3, 2]
    assert pipe.take_outbound() == [big]  # a big message goes alone
    assert pipe.take_outbound() == []


class _FakeHost:
    """Just enough of a socket to run one PeerConnection against a scripted stream."""

    socket_type = _zmtp.SocketType.PUSH
    _options = Options()

    def __init__(self) -> None:
        self.pipe = Pipe(self, sndhwm=10, rcvhwm=10, endpoint="fake")
        self.pipe.attached = True
        self.outcomes: list[Outcome] = []

    def _peer_ready(self, peer: object, handshake: object) -> Pipe:
        return self.pipe

    def _peer_inbound(self, pipe: object, events: object, only_messages: bool) -> None:
        pass

    def _peer_ended(self, peer: object, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def _pipe_readable(self, pipe: object) -> None:
        pass

    def _pipe_writable(self, pipe: object) -> None:
        pass

    def _pipe_flushed(self, pipe: object) -> None:
        pass

    def _pipe_drained(self, pipe: object) -> None:
        pass

    def _pipe_lost(self, pipe: object, count: int) -> None:
        pass


class _ScriptedStream(trio.abc.Stream):
    """Like trio.SocketStream when writable: send_all ends in a shielded checkpoint."""

    def __init__(self) -> None:
        self.incoming_send, self.incoming = trio.open_memory_channel[bytes](100)
        self.hook: Callable[[bytes], None] = lambda data: None

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        self.hook(bytes(data))
        # The shielded checkpoint that ends a successful send: let every other
        # task (the reader) run before the writer goes on.
        with trio.CancelScope(shield=True):
            await trio.testing.wait_all_tasks_blocked()

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        return await self.incoming.receive()

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


async def test_writer_stops_when_the_reader_broke_the_connection_meanwhile() -> None:
    host = _FakeHost()
    stream = _ScriptedStream()
    peer = PeerConnection(host, stream, endpoint="fake", pipe=host.pipe)
    pull = _zmtp.Connection(_zmtp.SocketType.PULL)
    ready = pull.data_to_send()
    pull.receive_data(b"")  # nothing yet; PULL's READY comes after our greeting
    stream.incoming_send.send_nowait(
        ready + b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PULL"
    )

    def hook(data: bytes) -> None:
        if b"M1" in data:
            # While the writer is in send_all's last checkpoint: garbage arrives
            # (the reader breaks the connection) and the app queues another message.
            stream.incoming_send.send_nowait(b"\x02" + b"\xff" * 8)
            host.pipe.write([b"M2"])

    stream.hook = hook
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer.run)
            await trio.testing.wait_all_tasks_blocked()
            host.pipe.write([b"M1"])
    assert host.outcomes == [Outcome.PROTOCOL_ERROR]


async def test_non_ascii_host_is_refused_at_once() -> None:
    async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
        for host in ("ab\u0660c", "caf\u00e9.example", "\u00fc"):
            try:
                push.connect(f"tcp://{host}:5555")
            except trio_zmq.EndpointError:
                continue
            raise AssertionError(f"{host!r} was accepted")
