"""A request-reply broker: clients (REQ) -> ROUTER | broker | DEALER -> workers (REP).

The broker forwards whole messages both ways. A REQ client's envelope
grows by the ROUTER's routing id on the way in, REP workers keep the whole
envelope, and it shrinks back on the way out, so every reply finds its
client without the broker knowing anything about them. Clients and workers
can be any ZeroMQ implementation (pyzmq's REQ and REP work the same).

Run it as it is: ``python examples/broker.py`` starts a broker, 3 workers
and 4 clients in one process and checks every reply.
"""

from __future__ import annotations

import trio

import trio_zmq


async def forward(source: trio_zmq.Socket, destination: trio_zmq.Socket) -> None:
    async for message in source:
        await destination.send_multipart(message)


async def broker(
    frontend_endpoint: str,
    backend_endpoint: str,
    *,
    task_status: trio.TaskStatus[tuple[str, str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the broker until cancelled; report its two bound endpoints."""
    async with (
        trio_zmq.open_socket(trio_zmq.ROUTER) as frontend,
        trio_zmq.open_socket(trio_zmq.DEALER) as backend,
    ):
        endpoints = (await frontend.bind(frontend_endpoint), await backend.bind(backend_endpoint))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(forward, frontend, backend)
            nursery.start_soon(forward, backend, frontend)
            task_status.started(endpoints)


async def worker(backend: str, name: str) -> None:
    """A REP worker: answers each request with its name, until cancelled."""
    async with trio_zmq.open_socket(trio_zmq.REP) as sock:
        sock.connect(backend)
        async for (request,) in sock:
            await sock.send(request + b" handled by " + name.encode())


async def client(frontend: str, name: str, requests: int) -> list[bytes]:
    """A REQ client: sends ``requests`` numbered requests, returns the replies."""
    async with trio_zmq.open_socket(trio_zmq.REQ) as sock:
        sock.connect(frontend)
        replies = []
        for i in range(requests):
            await sock.send(f"{name} request {i}".encode())
            replies.append(await sock.recv())
        return replies


async def main(clients: int = 4, workers: int = 3, requests: int = 5) -> dict[str, list[bytes]]:
    results: dict[str, list[bytes]] = {}
    async with trio.open_nursery() as nursery:
        frontend, backend = await nursery.start(broker, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*")
        for w in range(workers):
            nursery.start_soon(worker, backend, f"worker-{w}")

        async def run_client(name: str) -> None:
            results[name] = await client(frontend, name, requests)

        async with trio.open_nursery() as clients_nursery:
            for c in range(clients):
                clients_nursery.start_soon(run_client, f"client-{c}")
        nursery.cancel_scope.cancel()  # the clients are done: stop the broker and workers
    for name, replies in sorted(results.items()):
        for reply in replies:
            print(f"{name}: {reply.decode()}")
            assert reply.startswith(f"{name} request".encode())
    return results


if __name__ == "__main__":
    trio.run(main)
