"""High-water marks: back-pressure end to end, and changing them on a live socket."""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trio_zmq
from tests.helpers import bind_endpoint, free_endpoint, wait_for_peers
from trio_zmq._zmtp._framing import MAX_CHUNK_READ


async def _fill(push: trio_zmq.Socket, payload: bytes) -> int:
    """send_nowait until the whole pipeline is saturated; return how many were sent."""
    sent = 0
    while True:
        try:
            push.send_nowait(b"%d:" % sent + payload)
            sent += 1
        except trio.WouldBlock:
            before = push.statistics().queued_outbound
            await trio.testing.wait_all_tasks_blocked(cushion=0.05)
            if push.statistics().queued_outbound == before and _full(push):
                return sent


def _full(push: trio_zmq.Socket) -> bool:
    try:
        push.send_nowait(b"probe")
    except trio.WouldBlock:
        return True
    raise AssertionError("room appeared: _fill should keep going")  # pragma: no cover


async def test_backpressure_reaches_the_sender_and_loses_nothing(transport: str) -> None:
    payload = b"p" * 10_000
    with trio.fail_after(20):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=20) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=30) as push,
        ):
            push.connect(await pull.bind(bind_endpoint(transport)))
            await wait_for_peers(push, 1)
            sent = await _fill(push, payload)
            if transport == "inproc":
                # No reader and no kernel buffers: the high-water marks combine into
                # one limit (libzmq), and every message is the receiver's at once.
                assert sent == 30 + 20
                assert pull.statistics().queued_inbound == sent
            else:
                # The receiver stopped reading at its RCVHWM (plus what one read held),
                # the kernel buffers filled, and the sender's pipe is at its SNDHWM.
                assert pull.statistics().queued_inbound <= 20 + MAX_CHUNK_READ // len(payload) + 1
                assert push.statistics().queued_outbound == 30
                assert sent > 50
            for i in range(sent):
                assert await pull.recv() == b"%d:" % i + payload


async def test_sndhwm_counts_whole_messages_on_a_waiting_pipe(transport: str) -> None:
    async with trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=3, linger=0) as push:
        push.connect(await free_endpoint(transport))
        for _ in range(3):
            push.send_multipart_nowait([b"a", b"b", b"c"])  # three frames, one message
        with pytest.raises(trio.WouldBlock):
            push.send_nowait(b"x")
        assert push.statistics().queued_outbound == 3


async def test_hwm_zero_means_no_limit(transport: str) -> None:
    async with trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=0, linger=0) as push:
        push.connect(await free_endpoint(transport))
        for _ in range(5000):
            push.send_nowait(b"x")
        assert push.statistics().queued_outbound == 5000


async def test_raising_sndhwm_applies_to_existing_pipes_and_wakes_senders(transport: str) -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=2, linger=0) as push:
            push.connect(await free_endpoint(transport))
            push.send_nowait(b"1")
            push.send_nowait(b"2")
            with pytest.raises(trio.WouldBlock):
                push.send_nowait(b"3")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(push.send, b"3")
                await trio.testing.wait_all_tasks_blocked()
                assert push.statistics().queued_outbound == 2
                push.sndhwm = 4
            assert push.statistics().queued_outbound == 3
            push.send_nowait(b"4")
            with pytest.raises(trio.WouldBlock):
                push.send_nowait(b"5")
            push.sndhwm = 1  # lowering keeps what is queued, refuses more
            with pytest.raises(trio.WouldBlock):
                push.send_nowait(b"5")
            assert push.statistics().queued_outbound == 4


async def test_rcvhwm_stops_reading_and_resumes(transport: str) -> None:
    """Over inproc, where there is no reader, the sender's SNDHWM (1 there) adds to it."""
    inproc = transport == "inproc"
    with trio.fail_after(20):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=10) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=1 if inproc else 1000) as push,
        ):
            push.connect(await pull.bind(bind_endpoint(transport)))
            payload = b"r" * 50_000
            # What one read can add past the HWM (over inproc: the sender's SNDHWM).
            slack = 1 if inproc else MAX_CHUNK_READ // len(payload) + 1
            n = 200  # 10 MB: far more than the socket buffers hold

            async def sender() -> None:
                for i in range(n):
                    await push.send(b"%d:" % i + payload)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(sender)
                await trio.testing.wait_all_tasks_blocked(cushion=0.05)
                assert 10 <= pull.statistics().queued_inbound <= 10 + slack
                pull.rcvhwm = 50  # raising it lets the reader go on
                await trio.testing.wait_all_tasks_blocked(cushion=0.05)
                assert 50 <= pull.statistics().queued_inbound <= 50 + slack
                for i in range(n):
                    assert await pull.recv() == b"%d:" % i + payload
