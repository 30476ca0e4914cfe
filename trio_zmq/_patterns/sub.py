"""SUB (RFC 29; libzmq's sub.cpp): XSUB with subscriptions by method and a local filter.

``subscribe``/``unsubscribe`` (and the ``subscribe`` option at creation)
are counted: every subscribe goes to the publishers, an unsubscribe only
when it removes the last reference. ``recv`` fair-queues and returns only
messages whose first frame starts with a subscribed topic; others are
dropped (counted), as libzmq filters on receive.
"""

from __future__ import annotations

from .._options import Options
from .._strategies import Message
from .._zmtp import SocketType
from .xsub import XSub


class Sub(XSub):
    socket_type = SocketType.SUB
    can_send = False
    type_options = frozenset({"subscribe"})

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        for topic in options.subscribe:
            self._topics.add(topic, 0)

    def peek(self) -> Message | None:
        return self._next(consume=False)

    def recv(self) -> Message | None:
        return self._next(consume=True)

    def recv_single(self) -> Message | None:
        # One walk (one topic match), where the base class would peek and then recv.
        return self._next(consume=True, only_single=True)

    def _next(self, *, consume: bool, only_single: bool = False) -> Message | None:
        while True:
            found = self._fq.peek()
            if found is None:
                return None
            msg = found[1]
            if not self._topics.matches_any(msg[0]):
                self._fq.recv()
                self.dropped += 1
                continue
            if consume and (not only_single or len(msg) == 1):
                self._fq.recv()
            return msg
