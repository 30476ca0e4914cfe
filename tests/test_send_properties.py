"""A message is sent if and only if its send returned, and in order.

The send path has several hands too: ``send`` writing straight to an idle
connection (``PeerWriter._direct_write``), the writer finishing a partial
direct write, batches gathered by the writer, SNDHWM making senders wait,
``send_many`` taking the first part of a list. Hypothesis draws programs of
sends and batches, cancelled at once, after a few scheduler passes or after
a time, against a peer (libzmq or trio_zmq; tcp, ipc or inproc) that reads in bursts
with pauses, so queues fill and empty. The peer must receive exactly the
messages whose send returned (for ``send_many``: the count it returned), in
the order they were sent (DESIGN 3.4: a cancelled send sent nothing).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import trio
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trio_zmq

from .helpers import bind_endpoint
from .libzmq_peer import libzmq_socket

#: An int n: cancelled from another task n scheduler passes after it starts; a float:
#: after that many seconds (a send with nobody reading may wait for room forever).
_cancel = st.one_of(st.integers(0, 3), st.sampled_from([0.002, 0.05]))

_steps = st.one_of(
    st.tuples(st.just("send"), st.integers(1, 8), _cancel),
    st.tuples(st.just("send_many"), st.integers(1, 12), _cancel),
    st.tuples(st.just("send_nowait"), st.integers(1, 4)),
    st.tuples(st.just("peer_reads"), st.integers(0, 10)),
    st.tuples(st.just("pause"), st.sampled_from([0.0, 0.001, 0.012])),
)

#: Big enough that a few fill the kernel's buffers now and then.
BODY = b"x" * 40_000


async def _scenario(steps: list[tuple[Any, ...]], transport: str, libzmq_peer: bool) -> None:
    zctx: zmq.Context[Any] = zmq.Context()
    sent: list[bytes] = []  # what the sender was told went out, in order
    got: list[bytes] = []
    counter = 0

    def next_message() -> bytes:
        nonlocal counter
        counter += 1
        return b"%d " % counter + BODY

    try:
        with trio.fail_after(20):
            async with AsyncExitStack() as stack:
                if libzmq_peer:
                    zpull = stack.enter_context(libzmq_socket(zctx, zmq.PULL, timeout=3, rcvhwm=2))
                    endpoint = zpull.bind(transport)
                    recv = zpull.recv
                else:
                    pull = await stack.enter_async_context(
                        trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=2)
                    )
                    endpoint = await pull.bind(bind_endpoint(transport))
                    recv = pull.recv
                # linger 0: a failing program's lost message must not hold the close.
                push = await stack.enter_async_context(
                    trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=4, linger=0)
                )
                push.connect(endpoint)
                while push.statistics().peers < 1:
                    await trio.sleep(0.001)

                async def cancelled_after(when: float, fn: Any, *args: Any) -> None:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(fn, *args)
                        if isinstance(when, float):
                            nursery.cancel_scope.deadline = trio.current_time() + when
                        else:
                            for _ in range(when):
                                await trio.lowlevel.checkpoint()
                            nursery.cancel_scope.cancel()

                async def send_each(n: int) -> None:
                    for _ in range(n):
                        msg = next_message()
                        await push.send(msg)
                        sent.append(msg)

                async def send_batch(n: int) -> None:
                    batch = [[next_message()] for _ in range(n)]
                    count = await push.send_many(batch)
                    sent.extend(m[0] for m in batch[:count])

                for step in steps:
                    kind = step[0]
                    if kind == "send":
                        await cancelled_after(step[2], send_each, step[1])
                    elif kind == "send_many":
                        await cancelled_after(step[2], send_batch, step[1])
                    elif kind == "send_nowait":
                        for _ in range(step[1]):
                            msg = next_message()
                            try:
                                push.send_nowait(msg)
                            except trio.WouldBlock:
                                break
                            sent.append(msg)
                    elif kind == "peer_reads":
                        got.extend(
                            [await recv() for _ in range(min(step[1], len(sent) - len(got)))]
                        )
                    else:
                        await trio.sleep(step[1])
                # Everything sent arrives (a lost one is reported below). A
                # libzmq recv gives up by itself (RCVTIMEO): a cancelled one
                # would go on in its thread.
                if libzmq_peer:
                    try:
                        while len(got) < len(sent):
                            got.append(await recv())
                    except zmq.Again:
                        pass
                else:
                    with trio.move_on_after(3):
                        while len(got) < len(sent):
                            got.append(await recv())
                # Nothing more may come.
                if libzmq_peer:
                    assert not zpull.sock.poll(20)  # (a cancelled threaded recv would linger)
                else:
                    with trio.move_on_after(0.02):
                        got.append(await recv())
    finally:
        zctx.destroy(linger=0)
    assert [m.split(b" ")[0] for m in got] == [m.split(b" ")[0] for m in sent]
    assert got == sent


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(_steps, min_size=1, max_size=20),
    transport=st.sampled_from(["tcp", "ipc", "inproc"]),
    libzmq_peer=st.booleans(),
)
def test_a_message_is_sent_iff_its_send_returned_and_in_order(
    steps: list[tuple[Any, ...]], transport: str, libzmq_peer: bool
) -> None:
    # inproc links trio_zmq sockets of one Context: no libzmq peer there.
    trio.run(_scenario, steps, transport, libzmq_peer and transport != "inproc")
