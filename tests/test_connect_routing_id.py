"""``connect_routing_id`` (libzmq's ZMQ_CONNECT_ROUTING_ID) on ROUTER and STREAM.

The peer of the next ``connect`` gets that routing id: routable at once,
before the connection exists (messages queue for it), whatever Identity the
peer sends; the option then resets. libzmq's ROUTER plays the same scenario
as the reference.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import zmq

import trio_zmq

from .helpers import LOOPBACK, inproc_endpoint, wait_for_peers
from .libzmq_peer import libzmq_socket


@pytest.mark.parametrize("router_impl", ["trio", "libzmq"])
async def test_router_names_the_peer_it_connects_to(
    zctx: zmq.Context[Any], router_impl: str
) -> None:
    with trio.fail_after(10):
        async with trio_zmq.open_socket(trio_zmq.DEALER, routing_id=b"ignored") as dealer:
            endpoint = await dealer.bind(LOOPBACK)
            if router_impl == "trio":
                async with trio_zmq.open_socket(
                    trio_zmq.ROUTER, connect_routing_id=b"server", router_mandatory=True
                ) as router:
                    router.connect(endpoint)
                    assert router.connect_routing_id is None  # for one connect only
                    # Routable at once: this queues before the connection exists.
                    router.send_multipart_nowait([b"server", b"hello"])
                    assert await dealer.recv() == b"hello"
                    await dealer.send(b"reply")
                    assert await router.recv_multipart() == [b"server", b"reply"]
            else:
                with libzmq_socket(
                    zctx, zmq.ROUTER, connect_routing_id=b"server", router_mandatory=1
                ) as router_z:
                    router_z.connect(endpoint)
                    await router_z.send_multipart([b"server", b"hello"])
                    assert await dealer.recv() == b"hello"
                    await dealer.send(b"reply")
                    assert await router_z.recv_multipart() == [b"server", b"reply"]


async def test_misuse_is_refused_at_connect() -> None:
    async with trio_zmq.open_socket(trio_zmq.ROUTER, linger=0) as router:
        router.connect_routing_id = b"a"
        router.connect("tcp://127.0.0.1:1")
        router.connect_routing_id = b"a"
        with pytest.raises(ValueError, match="in use"):
            router.connect("tcp://127.0.0.1:2")
        assert router.statistics().connected_endpoints == 1
        router.immediate = True
        router.connect_routing_id = b"b"
        with pytest.raises(ValueError, match="immediate"):
            router.connect("tcp://127.0.0.1:2")
    with pytest.raises(ValueError, match="connect_routing_id"):
        async with trio_zmq.open_socket(trio_zmq.ROUTER, connect_routing_id=b""):
            pass
    with pytest.raises(TypeError, match="connect_routing_id"):
        trio_zmq.open_socket(trio_zmq.DEALER, connect_routing_id=b"x")


async def test_over_inproc() -> None:
    endpoint = inproc_endpoint()
    with trio.fail_after(10):
        async with (
            trio_zmq.open_socket(trio_zmq.ROUTER, connect_routing_id="named") as router,
            trio_zmq.open_socket(trio_zmq.DEALER) as dealer,
        ):
            router.connect(endpoint)
            await router.send_multipart([b"named", b"before the bind"])
            await dealer.bind(endpoint)
            assert await dealer.recv() == b"before the bind"
            await dealer.send(b"back")
            assert await router.recv_multipart() == [b"named", b"back"]


async def test_stream_connection_named_at_connect() -> None:
    with trio.fail_after(10):
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        async with (
            listeners[0] as listener,
            trio_zmq.open_socket(trio_zmq.STREAM, connect_routing_id=b"web") as stream,
        ):
            port = listener.socket.getsockname()[1]
            stream.connect(f"tcp://127.0.0.1:{port}")
            assert stream.routing_id == b"web"
            async with await listener.accept() as server_side:
                assert await stream.recv_multipart() == [b"web", b""]  # connected
                await stream.send_multipart([b"web", b"GET /"])
                assert await server_side.receive_some() == b"GET /"
                await wait_for_peers(stream, 1)
            assert await stream.recv_multipart() == [b"web", b""]  # gone
