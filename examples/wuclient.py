"""Weather update client: a SUB socket that averages the temperature of one zipcode.

Run ``python examples/wuserver.py`` first, then
``python examples/wuclient.py [endpoint] [zipcode] [updates]`` (defaults
``tcp://127.0.0.1:5556``, ``10001``, 100). It also works through the
forwarder: ``python examples/wuclient.py tcp://127.0.0.1:8100``.

A SUB socket receives only what it subscribed to: the subscription
``"10001 "`` travels to the publisher, which then sends this client the
updates that start with it, and no others. Subscribing is never waited for,
so the first updates published after the connection may be missed (the
"slow joiner"): the server publishes for ever, so that does not matter.
"""

from __future__ import annotations

import sys

import trio

import trio_zmq


async def receive_updates(endpoint: str, zipcode: str, updates: int) -> list[str]:
    """The next ``updates`` updates for ``zipcode`` published at ``endpoint``."""
    # A subscription is a prefix: the space ends the zipcode ("1000" would match 10000-10009).
    async with trio_zmq.open_socket(trio_zmq.SUB, subscribe=f"{zipcode} ") as subscriber:
        subscriber.connect(endpoint)
        received = []
        for _ in range(updates):
            update = await subscriber.recv_string()
            print(f"wuclient: {update}", flush=True)
            received.append(update)
        return received


async def main(
    endpoint: str = "tcp://127.0.0.1:5556", zipcode: str = "10001", updates: int = 100
) -> float:
    """Print and return the average temperature of ``updates`` updates for ``zipcode``."""
    print(f"wuclient: collecting updates for zipcode {zipcode} from {endpoint}", flush=True)
    received = await receive_updates(endpoint, zipcode, updates)
    temperatures = [int(update.split()[1]) for update in received]
    average = sum(temperatures) / len(temperatures)
    print(
        f"wuclient: average temperature for zipcode {zipcode} was {average:.1f}F "
        f"over {len(temperatures)} updates",
        flush=True,
    )
    return average


if __name__ == "__main__":
    args = sys.argv[1:]
    trio.run(
        main,
        args[0] if len(args) > 0 else "tcp://127.0.0.1:5556",
        args[1] if len(args) > 1 else "10001",
        int(args[2]) if len(args) > 2 else 100,
    )
