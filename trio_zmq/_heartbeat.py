"""Heartbeats (ZMTP 3.1 PING/PONG), with libzmq's timers (digest section 1.11).

* With ``heartbeat_ivl`` set, a PING goes out every interval, carrying
  ``heartbeat_ttl``. Sending one starts a timeout (``heartbeat_timeout``,
  by default the interval) unless one is running; anything received from
  the peer stops it. If it runs out, the connection is dropped (and the
  connecting side reconnects).
* A PING received with a TTL starts a timer of that TTL unless one is
  running; anything received after it stops it; if it runs out, the
  connection is dropped. libzmq does the same, so a peer that asked us for
  a TTL gets the same treatment from trio_zmq.
* Every PING is answered with a PONG by the sans-IO connection itself.

"Anything received" is counted per read, not per frame: the reader calls
:meth:`Heartbeat.received` once per read, which stops the running timers
at once; a PING with a TTL in that read then starts a new TTL timer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import trio

from . import _zmtp
from ._waiters import Waiters


class Heartbeat:
    """The heartbeat timers of one connection."""

    def __init__(self, ivl: float | None, ttl: float | None, timeout: float | None) -> None:
        self.ivl = ivl or 0.0
        self.ttl = ttl or 0.0
        self.timeout = self.ivl if timeout is None else timeout
        self._ping_deadline: float | None = None  # our PING's timeout
        self._ttl_deadline: float | None = None  # the peer's PING's TTL
        self._pinged = False  # the peer has sent a PING
        self._wake = Waiters()

    @property
    def quiet(self) -> bool:
        """No heartbeats either way so far: nothing needs a prompt read."""
        return not self.ivl and not self._pinged

    def received(self, events: Iterable[_zmtp.Event] | None) -> None:
        """The reader got data; ``events`` are its decoded events if any are commands."""
        self._ping_deadline = self._ttl_deadline = None  # anything received stops them
        if events is None:
            return
        for event in events:
            if type(event) is _zmtp.Ping:
                self._pinged = True
            if type(event) is _zmtp.Ping and event.ttl > 0:
                self._ttl_deadline = trio.current_time() + event.ttl
                self._wake.unpark_all()

    async def run(self, send_ping: Callable[[float], None]) -> str:
        """Send PINGs and watch the timers; return why the connection must end."""
        next_ping = trio.current_time() + self.ivl if self.ivl else math.inf
        while True:
            deadline = min(
                next_ping,
                math.inf if self._ping_deadline is None else self._ping_deadline,
                math.inf if self._ttl_deadline is None else self._ttl_deadline,
            )
            with trio.move_on_at(deadline):
                await self._wake.park()
            now = trio.current_time()
            if self._ping_deadline is not None and now >= self._ping_deadline:
                return f"nothing received for {self.timeout} s after a PING"
            if self._ttl_deadline is not None and now >= self._ttl_deadline:
                return "nothing received within the TTL of the peer's PING"
            if now >= next_ping:
                send_ping(self.ttl)
                if self._ping_deadline is None:
                    self._ping_deadline = now + self.timeout
                next_ping = now + self.ivl
