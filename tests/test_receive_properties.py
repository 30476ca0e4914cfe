"""Whatever receivers do, no message is lost, repeated or reordered.

The receive path has several hands on a single peer's socket: the
connection's reader, a receiver that borrows the socket (``PipeSet._borrow``),
a socket that rests unwatched between two borrows, ``*_nowait`` calls that
read a resting socket (``PipeSet.pull``), and kicks that get a borrower out
(another pipe's message, a second peer). Hypothesis draws programs of
receives (cancelled after a random short time, non-blocking, batched, two
receivers at once), sends from one or two peers (libzmq or trio_zmq; tcp, ipc or
inproc) and pauses around the 10 ms rest; the PULL socket must then hold each
peer's messages exactly once, in the order that peer sent them.
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from typing import Any

import trio
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trio_zmq

from .helpers import bind_endpoint
from .libzmq_peer import LibzmqSocket, libzmq_socket

#: How long a receive waits before it is cancelled: at once, inside a wait, or longer.
TIMEOUTS = [0.0, 0.0003, 0.002, 0.02]
# ("recv_cancelled_after", n) cancels a receive from another task n scheduler
# passes after it starts: at its first checkpoint, after it took a message, in
# a borrow's wait ... (trio runs the tasks of a pass in random order).

_steps = st.one_of(
    st.tuples(st.just("send"), st.integers(0, 1), st.integers(1, 6)),
    st.tuples(st.just("recv"), st.sampled_from(TIMEOUTS)),
    st.tuples(st.just("recv_cancelled_after"), st.integers(0, 3)),
    st.tuples(st.just("recv_nowait")),
    st.tuples(st.just("recv_many_nowait")),
    st.tuples(st.just("two_receivers"), st.sampled_from(TIMEOUTS)),
    st.tuples(st.just("second_peer")),
    st.tuples(st.just("pause"), st.sampled_from([0.0, 0.001, 0.012])),
)

Peer = trio_zmq.Socket | LibzmqSocket


async def _scenario(steps: list[tuple[Any, ...]], transport: str, libzmq_peers: bool) -> None:
    zctx: zmq.Context[Any] = zmq.Context()
    sent = [0, 0]
    received: list[bytes] = []
    try:
        # The libzmq peers close (waiting for a worker thread still in a
        # send) before the context goes, whether the program passed or not.
        with ExitStack() as libzmq_peers_open, trio.fail_after(10):
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                endpoint = await pull.bind(bind_endpoint(transport))
                async with trio.open_nursery() as peers_nursery:
                    peers: list[Peer] = []

                    async def add_peer() -> None:
                        if libzmq_peers:
                            peer: Peer = libzmq_peers_open.enter_context(
                                libzmq_socket(zctx, zmq.PUSH)
                            )
                            peer.connect(endpoint)
                        else:
                            peer = await peers_nursery.start(_trio_push, endpoint)
                        peers.append(peer)
                        while pull.statistics().peers < len(peers):
                            await trio.sleep(0.001)

                    async def receive(timeout: float, into: list[bytes] = received) -> None:
                        with trio.move_on_after(timeout):
                            into.append(await pull.recv())

                    await add_peer()
                    for step in steps:
                        kind = step[0]
                        if kind == "send":
                            index = min(step[1], len(peers) - 1)
                            for _ in range(step[2]):
                                await peers[index].send(b"%d:%d" % (index, sent[index]))
                                sent[index] += 1
                        elif kind == "recv":
                            await receive(step[1])
                        elif kind == "recv_cancelled_after":
                            async with trio.open_nursery() as nursery:
                                nursery.start_soon(receive, math.inf)
                                for _ in range(step[1]):
                                    await trio.lowlevel.checkpoint()
                                nursery.cancel_scope.cancel()
                        elif kind == "recv_nowait":
                            try:
                                received.append(pull.recv_nowait())
                            except trio.WouldBlock:
                                pass
                        elif kind == "recv_many_nowait":
                            try:
                                received.extend(m[0] for m in pull.recv_many_nowait())
                            except trio.WouldBlock:
                                pass
                        elif kind == "two_receivers":
                            both: list[bytes] = []
                            async with trio.open_nursery() as nursery:
                                nursery.start_soon(receive, step[1], both)
                                nursery.start_soon(receive, step[1], both)
                            # Which of the two resumes first is the scheduler's
                            # choice: the order they took them in is the sequence's.
                            received.extend(sorted(both, key=lambda m: int(m.split(b":")[1])))
                        elif kind == "second_peer":
                            if len(peers) == 1:
                                await add_peer()
                        else:
                            await trio.sleep(step[1])
                    # Everything sent arrives, once (a lost one is reported below).
                    with trio.move_on_after(2):
                        while len(received) < sum(sent):
                            received.append(await pull.recv())
                    with trio.move_on_after(0.02):
                        received.append(await pull.recv())  # nothing more may come
                    peers_nursery.cancel_scope.cancel()
    finally:
        zctx.destroy(linger=0)
    for index in range(2):
        mine = [m for m in received if m.startswith(b"%d:" % index)]
        assert mine == [b"%d:%d" % (index, i) for i in range(sent[index])]
    assert len(received) == sum(sent)


async def _trio_push(
    endpoint: str, *, task_status: trio.TaskStatus[trio_zmq.Socket] = trio.TASK_STATUS_IGNORED
) -> None:
    async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
        push.connect(endpoint)
        task_status.started(push)
        await trio.sleep(math.inf)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(_steps, min_size=1, max_size=25),
    transport=st.sampled_from(["tcp", "ipc", "inproc"]),
    libzmq_peers=st.booleans(),
)
def test_no_message_is_lost_repeated_or_reordered_whatever_the_receivers_do(
    steps: list[tuple[Any, ...]], transport: str, libzmq_peers: bool
) -> None:
    # inproc links trio_zmq sockets of one Context: no libzmq peer there.
    trio.run(_scenario, steps, transport, libzmq_peers and transport != "inproc")
