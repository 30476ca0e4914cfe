"""Weather update forwarder: relays a weather server's updates to clients elsewhere.

Run ``python examples/wuserver.py`` first, then
``python examples/wuproxy.py [server-endpoint] [client-endpoint]``
(defaults ``tcp://127.0.0.1:5556`` and ``tcp://127.0.0.1:8100``; the first
line printed ends with the endpoint bound for clients), then
``python examples/wuclient.py tcp://127.0.0.1:8100``.

An XSUB socket connects to the server and an XPUB socket is bound for the
clients; ``trio_zmq.proxy`` forwards between them both ways. The clients'
subscriptions come into the XPUB as ``b"\\x01" + topic`` messages and go
out through the XSUB to the server, which therefore sends the forwarder
only what some client wants; the updates come back down the same way, and
the XPUB hands each one to the clients that asked for it. To the clients
the forwarder looks like the server; to the server, like one client.
"""

from __future__ import annotations

import sys

import trio

import trio_zmq


async def forward(
    server_endpoint: str,
    client_endpoint: str,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Forward until cancelled; report the endpoint bound for clients."""
    async with (
        trio_zmq.open_socket(trio_zmq.XSUB) as frontend,
        trio_zmq.open_socket(trio_zmq.XPUB) as backend,
    ):
        frontend.connect(server_endpoint)  # in the background: the server may come later
        bound = await backend.bind(client_endpoint)
        print(
            f"wuproxy: forwarding updates from {server_endpoint}; clients connect to {bound}",
            flush=True,
        )
        task_status.started(bound)
        await trio_zmq.proxy(frontend, backend)  # until cancelled (Ctrl-C)


if __name__ == "__main__":
    args = sys.argv[1:]
    trio.run(
        forward,
        args[0] if len(args) > 0 else "tcp://127.0.0.1:5556",
        args[1] if len(args) > 1 else "tcp://127.0.0.1:8100",
    )
