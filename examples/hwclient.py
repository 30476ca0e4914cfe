"""Hello World client: a REQ socket that sends "Hello" and waits for "World", ten times.

Run ``python examples/hwserver.py`` first, then ``python examples/hwclient.py [endpoint]``.
A REQ socket connects in the background, so the order does not matter much:
requests wait until the server is there.
"""

from __future__ import annotations

import sys

import trio

import trio_zmq


async def main(endpoint: str = "tcp://127.0.0.1:5555", count: int = 10) -> list[bytes]:
    replies = []
    async with trio_zmq.open_socket(trio_zmq.REQ) as client:
        client.connect(endpoint)
        for i in range(count):
            await client.send(b"Hello")
            reply = await client.recv()
            print(f"client: request {i} got {reply!r}", flush=True)
            replies.append(reply)
    return replies


if __name__ == "__main__":
    trio.run(main, sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:5555")
