"""disconnect and unbind end their connections as libzmq ends a session.

libzmq 4.3 (zmq_disconnect(3)): nothing more is received from the endpoint,
and what was queued for it still gets up to the linger period to go out.
An unbind ends the sessions accepted on that endpoint the same way.
"""

from __future__ import annotations

import trio
import trio.testing

import trio_zmq
from tests.helpers import LOOPBACK, free_endpoint, linked, wait_for_peers, wait_until


async def test_disconnect_lets_queued_messages_go_out_within_linger() -> None:
    with trio.fail_after(10):
        endpoint = await free_endpoint()
        async with trio_zmq.open_socket(trio_zmq.PUSH, reconnect_ivl=0.01) as push:
            push.connect(endpoint)
            await push.send(b"queued 1")
            await push.send(b"queued 2")
            push.disconnect(endpoint)
            assert push.statistics().connected_endpoints == 0
            # No new message can go to that peer any more...
            with trio.move_on_after(0.02) as scope:
                await push.send(b"refused")
            assert scope.cancelled_caught
            # ...but what was queued is still delivered when the peer comes (linger=None).
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                await pull.bind(endpoint)
                assert await pull.recv() == b"queued 1"
                assert await pull.recv() == b"queued 2"
                await wait_until(lambda: push.statistics().peers == 0)  # then it closed
            assert push.statistics().messages_dropped == 0


async def test_disconnect_with_linger_zero_drops_at_once() -> None:
    with trio.fail_after(10):
        endpoint = await free_endpoint()
        async with trio_zmq.open_socket(trio_zmq.PUSH, linger=0, reconnect_ivl=0.01) as push:
            push.connect(endpoint)
            await push.send(b"dropped")
            push.disconnect(endpoint)
            assert push.statistics().messages_dropped == 1
            assert push.statistics().queued_outbound == 0
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                await pull.bind(endpoint)
                await trio.sleep(0.1)  # checking that nothing comes
                assert pull.statistics().peers == 0


async def test_disconnect_linger_expires_then_drops() -> None:
    with trio.fail_after(10):
        endpoint = await free_endpoint()
        async with trio_zmq.open_socket(trio_zmq.PUSH, linger=0.05) as push:
            push.connect(endpoint)
            await push.send(b"late")
            push.disconnect(endpoint)
            await wait_until(lambda: push.statistics().messages_dropped == 1)
            assert push.statistics().queued_outbound == 0


async def test_disconnect_drops_unread_messages_from_that_peer() -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PUSH, trio_zmq.PULL) as (push, pull):
            for i in range(5):
                await push.send(b"%d" % i)
            await wait_until(lambda: pull.statistics().queued_inbound == 5)
            assert pull.last_endpoint is not None
            pull.disconnect(pull.last_endpoint)
            stats = pull.statistics()
            assert (stats.queued_inbound, stats.messages_dropped) == (0, 5)
            with trio.move_on_after(0.02) as scope:
                await pull.recv()
            assert scope.cancelled_caught


async def test_unbind_drops_unread_messages_and_refuses_new_connections() -> None:
    with trio.fail_after(10):
        async with linked(trio_zmq.PULL, trio_zmq.PUSH) as (pull, push):
            for i in range(5):
                await push.send(b"%d" % i)
            await wait_until(lambda: pull.statistics().queued_inbound == 5)
            assert pull.last_endpoint is not None
            pull.unbind(pull.last_endpoint)
            assert pull.statistics().queued_inbound == 0
            assert pull.statistics().messages_dropped == 5
            await wait_for_peers(pull, 0)


async def test_unbind_lets_queued_messages_go_out_within_linger() -> None:
    payload = b"u" * 200_000
    with trio.fail_after(20):
        async with linked(trio_zmq.PUSH, trio_zmq.PULL, connect_options={"rcvhwm": 1}) as (
            push,
            pull,
        ):
            await wait_for_peers(push, 1)
            sent = 0
            with trio.move_on_after(0.2):  # fill everything: the PULL does not read
                while True:
                    await push.send(b"%d:" % sent + payload)
                    sent += 1
            assert push.statistics().queued_outbound > 0
            assert push.last_endpoint is not None
            push.unbind(push.last_endpoint)
            got = [await pull.recv() for _ in range(sent)]
            assert got == [b"%d:" % i + payload for i in range(sent)]
            await wait_for_peers(push, 0)  # and then the connection was closed


async def test_aclose_lingers_on_accepted_connections() -> None:
    payload = b"a" * 200_000
    with trio.fail_after(20):
        async with trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=1) as pull:
            async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
                pull.connect(await push.bind(LOOPBACK))
                await wait_for_peers(push, 1)
                sent = 0
                with trio.move_on_after(0.2):
                    while True:
                        await push.send(b"%d:" % sent + payload)
                        sent += 1
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(push.aclose)  # lingers: nothing was dropped
                    await trio.testing.wait_all_tasks_blocked()
                    got = [await pull.recv() for _ in range(sent)]
            assert got == [b"%d:" % i + payload for i in range(sent)]
            assert push.statistics().messages_dropped == 0
