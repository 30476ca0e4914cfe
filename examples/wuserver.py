"""Weather update server: a PUB socket publishing "zipcode temperature relhumidity" updates.

Run it as it is: ``python examples/wuserver.py [endpoint]`` (default
``tcp://127.0.0.1:5556``; ``tcp://127.0.0.1:*`` picks a free port), then
``python examples/wuclient.py`` in another terminal. The first line printed
names the endpoint bound. Any ZeroMQ SUB client can subscribe to it, pyzmq's
included.

The server publishes random updates as fast as it can, for ever, whether
anyone listens or not: a PUB socket sends each update only to the
subscribers whose subscription (a prefix, here ``"10001 "``) matches it, and
drops it when there are none. The town is small (a hundred zipcodes), so a
client hears about its own zipcode often.
"""

from __future__ import annotations

import random
import sys

import trio

import trio_zmq

#: The zipcodes of the town.
ZIPCODES = range(10000, 10100)


def weather_update(rng: random.Random) -> str:
    """One update: ``"zipcode temperature relhumidity"``, e.g. ``"10001 72 35"``."""
    zipcode = rng.choice(ZIPCODES)
    temperature = rng.randrange(-80, 135)
    relhumidity = rng.randrange(10, 60)
    return f"{zipcode:05d} {temperature} {relhumidity}"


async def serve(
    endpoint: str, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
) -> None:
    """Publish weather updates on ``endpoint`` until cancelled; report the bound endpoint."""
    rng = random.Random()
    async with trio_zmq.open_socket(trio_zmq.PUB) as publisher:
        bound = await publisher.bind(endpoint)
        print(f"wuserver: publishing weather updates on {bound}", flush=True)
        task_status.started(bound)
        while True:
            # A checkpoint each time: the connections get their turn to run.
            await publisher.send_string(weather_update(rng))


if __name__ == "__main__":
    trio.run(serve, sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:5556")
