"""Hello World server: a REP socket that answers every "Hello" with "World".

Run it as it is: ``python examples/hwserver.py [endpoint]`` (default
``tcp://127.0.0.1:5555``), then ``python examples/hwclient.py`` in another
terminal. Any ZeroMQ REQ client can talk to it, pyzmq's included.
"""

from __future__ import annotations

import sys

import trio

import trio_zmq


async def serve(
    endpoint: str,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
    requests: int | None = None,
) -> None:
    """Answer ``requests`` requests (forever if None); report the bound endpoint."""
    async with trio_zmq.open_socket(trio_zmq.REP) as server:
        bound = await server.bind(endpoint)
        print(f"server: listening on {bound}", flush=True)
        task_status.started(bound)
        answered = 0
        while requests is None or answered < requests:
            request = await server.recv()
            print(f"server: received {request!r}", flush=True)
            await server.send(b"World")
            answered += 1


if __name__ == "__main__":
    trio.run(serve, sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:5555")
