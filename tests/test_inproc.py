"""inproc: sockets of one Context linked pipe to pipe, as libzmq 4 links them.

What is particular to inproc is here: bind and connect in either order, no
copies, the high-water marks combined, what each end's close, disconnect
and unbind do, names scoped by Context. The patterns themselves run over
inproc with every other test of ``test_all_transports.py``.
"""

from __future__ import annotations

import itertools

import pytest
import trio
import trio.testing

import trio_zmq

from .helpers import wait_until

_names = itertools.count()


def name() -> str:
    return f"inproc://test-inproc-{next(_names)}"


@pytest.mark.parametrize("bind_first", [True, False])
async def test_push_pull_in_either_order(bind_first: bool) -> None:
    endpoint = name()
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.PUSH) as push,
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
        ):
            if bind_first:
                assert await pull.bind(endpoint) == endpoint
                push.connect(endpoint)
            else:
                push.connect(endpoint)
                await push.send(b"queued before bind")
                assert push.statistics().queued_outbound == 1
                assert push.statistics().peers == 0
                assert await pull.bind(endpoint) == endpoint
                assert await pull.recv() == b"queued before bind"
            assert push.statistics().peers == pull.statistics().peers == 1
            await push.send_multipart([b"a", b"b"])
            assert await pull.recv_multipart() == [b"a", b"b"]
            assert push.statistics().queued_outbound == 0


async def test_frames_are_handed_over_without_copies() -> None:
    endpoint = name()
    big = bytes(1 << 20)
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.DEALER) as a,
            trio_zmq.open_socket(trio_zmq.DEALER) as b,
        ):
            await a.bind(endpoint)
            b.connect(endpoint)
            await b.send_multipart([b"head", big])
            got = await a.recv_multipart()
            assert got[1] is big


async def test_a_message_given_to_many_subscribers_is_a_list_of_its_own_each() -> None:
    endpoint = name()
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.PUB) as pub,
            trio_zmq.open_socket(trio_zmq.SUB, subscribe=b"") as s1,
            trio_zmq.open_socket(trio_zmq.SUB, subscribe=b"") as s2,
        ):
            await pub.bind(endpoint)
            s1.connect(endpoint)
            s2.connect(endpoint)
            await wait_until(lambda: pub.statistics().peers == 2)
            await pub.send_multipart([b"t", b"x"])
            m1 = await s1.recv_multipart()
            m1.append(b"changed by the first receiver")
            assert await s2.recv_multipart() == [b"t", b"x"]


@pytest.mark.parametrize(("sndhwm", "rcvhwm", "expected"), [(3, 4, 7), (1, 1, 2), (5, 0, None)])
async def test_high_water_marks_combine(sndhwm: int, rcvhwm: int, expected: int | None) -> None:
    endpoint = name()
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=sndhwm) as push,
            trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=rcvhwm) as pull,
        ):
            await pull.bind(endpoint)
            push.connect(endpoint)
            sent = 0
            try:
                while sent < 10_000:
                    push.send_nowait(b"m")
                    sent += 1
            except trio.WouldBlock:
                pass
            assert sent == (10_000 if expected is None else expected)
            await pull.recv()
            push.send_nowait(b"room again after one read")


async def test_a_sender_blocked_at_the_hwm_is_woken_by_a_read() -> None:
    endpoint = name()
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=1) as push,
            trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=1) as pull,
        ):
            await pull.bind(endpoint)
            push.connect(endpoint)
            async with trio.open_nursery() as nursery:

                async def produce() -> None:
                    for i in range(50):
                        await push.send(b"%d" % i)

                nursery.start_soon(produce)
                assert [await pull.recv() for _ in range(50)] == [b"%d" % i for i in range(50)]


async def test_a_sender_blocked_before_the_bind_is_woken_by_the_link() -> None:
    # Full at its own SNDHWM before anyone bound; once linked, the limit is
    # SNDHWM + RCVHWM: the sender goes on without waiting for a read.
    endpoint = name()
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.PUSH, sndhwm=2) as push,
            trio_zmq.open_socket(trio_zmq.PULL, rcvhwm=3) as pull,
            trio.open_nursery() as nursery,
        ):
            push.connect(endpoint)
            sent = 0

            async def produce() -> None:
                nonlocal sent
                for i in range(5):
                    await push.send(b"%d" % i)
                    sent += 1

            nursery.start_soon(produce)
            await wait_until(lambda: sent == 2)
            await trio.testing.wait_all_tasks_blocked()
            assert sent == 2  # blocked at SNDHWM
            await pull.bind(endpoint)
            await wait_until(lambda: sent == 5)
            assert [await pull.recv() for _ in range(5)] == [b"%d" % i for i in range(5)]


async def test_connect_before_bind_with_subscriptions_and_welcome() -> None:
    endpoint = name()
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.XPUB, xpub_welcome_msg=b"hello") as xpub,
            trio_zmq.open_socket(trio_zmq.SUB) as sub,
        ):
            sub.connect(endpoint)
            sub.subscribe(b"he")
            sub.subscribe(b"news")
            await xpub.bind(endpoint)
            assert await xpub.recv() == b"\x01he"
            assert await xpub.recv() == b"\x01news"
            assert await sub.recv() == b"hello"
            await xpub.send(b"weather")
            await xpub.send(b"news!")
            assert await sub.recv() == b"news!"
            sub.unsubscribe(b"news")
            assert await xpub.recv() == b"\x00news"


async def test_routing_ids_and_req_rep() -> None:
    endpoint = name()
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.ROUTER) as router,
            trio_zmq.open_socket(trio_zmq.REQ, routing_id=b"me") as req,
        ):
            await router.bind(endpoint)
            req.connect(endpoint)
            await req.send(b"question")
            assert await router.recv_multipart() == [b"me", b"", b"question"]
            await router.send_multipart([b"me", b"", b"answer"])
            assert await req.recv() == b"answer"


async def test_bind_twice_is_address_in_use_and_unbind_frees_the_name() -> None:
    endpoint = name()
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as first,
            trio_zmq.open_socket(trio_zmq.PULL) as second,
            trio_zmq.open_socket(trio_zmq.PUSH) as push,
        ):
            await first.bind(endpoint)
            push.connect(endpoint)
            with pytest.raises(OSError, match="already bound"):
                await second.bind(endpoint)
            first.unbind(endpoint)
            # As in libzmq, the link made through the name goes on ...
            await push.send(b"still linked")
            assert await first.recv() == b"still linked"
            # ... and the name is free for another socket.
            await second.bind(endpoint)
            async with trio_zmq.open_socket(trio_zmq.PUSH) as late:
                late.connect(endpoint)
                await late.send(b"to the new owner")
                assert await second.recv() == b"to the new owner"


async def test_closing_either_end_ends_both_pipes_and_keeps_what_arrived() -> None:
    endpoint = name()
    with trio.fail_after(5):
        async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
            await pull.bind(endpoint)
            async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
                push.connect(endpoint)
                for i in range(3):
                    await push.send(b"%d" % i)
            assert pull.statistics().peers == 0
            assert pull.statistics().disconnections == 1
            assert [await pull.recv() for _ in range(3)] == [b"0", b"1", b"2"]

        async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                await pull.bind(endpoint)
                push.connect(endpoint)
                await wait_until(lambda: push.statistics().peers == 1)
            # The bound end is gone; an inproc link never comes back.
            assert push.statistics().peers == 0
            with pytest.raises(trio.WouldBlock):
                push.send_nowait(b"nobody")


async def test_disconnect_ends_the_link() -> None:
    endpoint = name()
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            trio_zmq.open_socket(trio_zmq.PUSH) as push,
        ):
            await pull.bind(endpoint)
            push.connect(endpoint)
            await push.send(b"before")
            push.disconnect(endpoint)
            assert push.statistics().peers == 0
            assert pull.statistics().peers == 0
            assert await pull.recv() == b"before"
            with pytest.raises(trio.WouldBlock):
                push.send_nowait(b"after")


async def test_disconnect_of_a_pending_connect_and_linger() -> None:
    endpoint = name()
    with trio.fail_after(5):
        async with trio_zmq.open_socket(trio_zmq.PUSH, linger=0) as push:
            push.connect(endpoint)
            await push.send(b"never delivered")
            push.disconnect(endpoint)
            async with trio_zmq.open_socket(trio_zmq.PULL) as pull:
                await pull.bind(endpoint)
                assert pull.statistics().peers == 0
            assert push.statistics().messages_dropped == 1


async def test_close_waits_for_a_pending_bind_within_linger() -> None:
    endpoint = name()
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            trio.open_nursery() as nursery,
        ):

            async def push_then_close() -> None:
                async with trio_zmq.open_socket(trio_zmq.PUSH) as push:
                    push.connect(endpoint)
                    await push.send(b"delivered at the bind")
                # leaving the block waited (linger None) for the bind

            nursery.start_soon(push_then_close)
            await trio.testing.wait_all_tasks_blocked()
            await pull.bind(endpoint)
            assert await pull.recv() == b"delivered at the bind"


async def test_incompatible_types_do_not_link() -> None:
    endpoint = name()
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.PULL) as pull,
            trio_zmq.open_socket(trio_zmq.PULL) as other,
        ):
            await pull.bind(endpoint)
            other.connect(endpoint)
            assert other.statistics().protocol_errors == 1
            assert pull.statistics().peers == other.statistics().peers == 0


async def test_names_belong_to_their_context() -> None:
    endpoint = name()
    one, two = trio_zmq.Context(), trio_zmq.Context()
    with trio.fail_after(5):
        async with (
            one.socket(trio_zmq.PULL) as pull_one,
            two.socket(trio_zmq.PULL) as pull_two,
            two.socket(trio_zmq.PUSH) as push_two,
        ):
            await pull_one.bind(endpoint)
            await pull_two.bind(endpoint)  # another context: no conflict
            push_two.connect(endpoint)
            await push_two.send(b"two")
            assert await pull_two.recv() == b"two"
            assert pull_one.statistics().peers == 0


async def test_the_default_context_links_open_socket_sockets() -> None:
    endpoint = name()
    with trio.fail_after(5):
        async with (
            trio_zmq.open_socket(trio_zmq.PAIR) as a,
            trio_zmq.Context().socket(trio_zmq.PAIR) as elsewhere,
            trio_zmq.open_socket(trio_zmq.PAIR) as b,
        ):
            await a.bind(endpoint)
            elsewhere.connect(endpoint)  # not the same context: stays pending
            b.connect(endpoint)
            await b.send(b"same default context")
            assert await a.recv() == b"same default context"
            assert elsewhere.statistics().peers == 0


@pytest.mark.parametrize("endpoint", ["inproc://", "inproc://*"])
async def test_bad_inproc_endpoints(endpoint: str) -> None:
    async with trio_zmq.open_socket(trio_zmq.PAIR) as pair:
        with pytest.raises(trio_zmq.EndpointError):
            await pair.bind(endpoint)
        with pytest.raises(trio_zmq.EndpointError):
            pair.connect(endpoint)
